// The one module that talks to the desktop shell: typed wrappers around Tauri's `invoke` (one per
// command in src-tauri/src/commands.rs) and `listen` (the one "progress" event). The DTO types
// mirror the camelCase JSON of crates/api; change them together. Nothing else imports @tauri-apps.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { open } from '@tauri-apps/plugin-dialog';

/** The error every command rejects with: `ApiError {code, message}` from crates/api. */
export interface ApiError {
  code: 'invalid_input' | 'not_found' | 'cancelled' | 'store' | 'internal';
  message: string;
}

export function isApiError(e: unknown): e is ApiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

/** A readable message for anything a command rejected with. */
export function errorMessage(e: unknown): string {
  if (isApiError(e)) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** `localdx_job::Progress`: `done` of `total` units, with rate and ETA. */
export interface Progress {
  stage: string;
  unit: string;
  done: number;
  total: number | null;
  rate: number;
  etaSeconds: number | null;
}

export interface WorkspaceInfo {
  database: string;
  version: string;
}

export interface ImportOptions {
  name?: string | null;
  textColumn?: string | null;
  labelColumn?: string | null;
  patientColumn?: string | null;
  idColumn?: string | null;
}

export interface Preview {
  format: string;
  columns: string[];
  rows: string[][];
  suggested: ImportOptions;
}

export interface RowError {
  line: number;
  message: string;
}

export interface ImportReport {
  datasetId: number;
  name: string;
  imported: number;
  skipped: number;
  errors: RowError[];
}

export interface Dataset {
  id: number;
  name: string;
  source: string;
  records: number;
  createdAt: string;
}

export interface DatasetDetail extends Dataset {
  labels: { label: string; count: number }[];
  patients: number;
}

export interface RecordSummary {
  id: number;
  externalId: string | null;
  patientId: string | null;
  label: string | null;
  text: string;
}

export type Record = RecordSummary;

export interface RecordPage {
  total: number;
  records: RecordSummary[];
}

export const backend = {
  workspaceInfo: () => invoke<WorkspaceInfo>('workspace_info'),
  previewImport: (path: string, options: ImportOptions) => invoke<Preview>('preview_import', { path, options }),
  importDataset: (path: string, options: ImportOptions) => invoke<ImportReport>('import_dataset', { path, options }),
  cancelImport: () => invoke<boolean>('cancel_import'),
  datasets: () => invoke<Dataset[]>('list_datasets'),
  dataset: (id: number) => invoke<DatasetDetail>('get_dataset', { id }),
  records: (datasetId: number, offset: number, limit: number, search: string | null) =>
    invoke<RecordPage>('list_records', { datasetId, offset, limit, search }),
  record: (id: number) => invoke<Record>('get_record', { id }),
};

/** Calls `handler` with every progress report until the returned function is called. */
export function onProgress(handler: (p: Progress) => void): Promise<UnlistenFn> {
  return listen<Progress>('progress', (event) => handler(event.payload));
}

/** The native file picker; resolves to the chosen path, or null when the user cancelled. */
export async function pickImportFile(): Promise<string | null> {
  const chosen = await open({
    multiple: false,
    directory: false,
    title: 'Choose notes to import',
    filters: [
      { name: 'Notes (CSV, TSV, JSON Lines, text)', extensions: ['csv', 'tsv', 'jsonl', 'ndjson', 'txt'] },
      { name: 'All files', extensions: ['*'] },
    ],
  });
  return typeof chosen === 'string' ? chosen : null;
}
