// The one module that talks to the desktop shell: typed wrappers around Tauri's `invoke` (one per
// command in src-tauri/src/commands.rs) and `listen` (the one "progress" event). The DTO types
// mirror the camelCase JSON of crates/api; change them together. Nothing else imports @tauri-apps.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { open } from '@tauri-apps/plugin-dialog';

/** The error every command rejects with: `ApiError {code, message}` from crates/api. */
export interface ApiError {
  code: 'invalid_input' | 'not_found' | 'cancelled' | 'store' | 'unauthorized' | 'forbidden' | 'blocked' | 'internal';
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

/** `ImportOptionsDto`: every field is optional; the backend detects or defaults the rest. */
export interface ImportOptions {
  format?: string | null;
  name?: string | null;
  textColumn?: string | null;
  labelColumn?: string | null;
  labelColumns?: string[];
  labelSeparator?: string | null;
  patientColumn?: string | null;
  idColumn?: string | null;
  splitColumn?: string | null;
  skipBadRows?: boolean;
  mergeDuplicates?: boolean;
  allowReimport?: boolean;
  seed?: number | null;
  splitRatios?: [number, number, number] | null;
  textSubfolder?: string | null;
  labelsFile?: string | null;
  labelMap?: string | null;
  testFromValidation?: number | null;
  maxErrors?: number | null;
  actor?: string | null;
  previewRows?: number | null;
}

/** `RolesDto`: which column plays which role. */
export interface Roles {
  text: string | null;
  labels: string[];
  patientId: string | null;
  noteId: string | null;
  split: string | null;
}

/** `PreviewDto`: a first look at a file or folder before importing it. */
export interface Preview {
  format: string;
  delimiter: string | null;
  encoding: string;
  columns: string[];
  rows: string[][];
  roles: Roles;
  textSubfolders: string[];
  warnings: string[];
}

/** `RowErrorDto`: a row that was not imported (`file` is set for folders). */
export interface RowError {
  file: string | null;
  line: number;
  message: string;
}

export interface SplitCount {
  split: string;
  count: number;
}

export interface LabelCount {
  label: string;
  count: number;
}

/** `ImportReportDto`. `datasetId` is null when bad rows refused the import (see `errors`). */
export interface ImportReport {
  datasetId: number | null;
  imported: boolean;
  name: string;
  format: string;
  encoding: string;
  delimiter: string | null;
  sha256: string;
  mapping: Roles;
  records: number;
  rejected: number;
  duplicates: number;
  duplicateGroups: number;
  duplicateRows: { line: number; firstLine: number }[];
  mergedDuplicates: boolean;
  errors: RowError[];
  warnings: string[];
  splitSource: string;
  seed: number | null;
  splits: SplitCount[];
  labels: number;
  bytes: number;
}

/** `DatasetDto`: one dataset in a list. */
export interface Dataset {
  id: number;
  name: string;
  format: string;
  sourcePath: string | null;
  sha256: string | null;
  parentId: number | null;
  seed: number | null;
  createdAt: string;
  createdBy: string;
  records: number;
  rejected: number;
}

/** `DatasetDetailDto`: a dataset with its counts per split and per label. */
export interface DatasetDetail extends Dataset {
  columnMapping: unknown;
  options: unknown;
  splits: SplitCount[];
  labels: LabelCount[];
  unlabelled: number;
  rejectedRows: RowError[];
}

/** `RecordDto`: one note. */
export interface NoteRecord {
  id: number;
  datasetId: number;
  externalId: string | null;
  patientId: string | null;
  text: string;
  labels: string[];
  split: string;
  sourceLine: number;
}

/** `RecordPageDto`: a page of records and how many match in all. */
export interface RecordPage {
  total: number;
  offset: number;
  limit: number;
  records: NoteRecord[];
}

/** `SessionDto`: who is logged in. */
export interface Session {
  user: string;
  role: 'steward' | 'clinician' | 'admin';
  encrypted: boolean;
}

export type SpanState = 'undecided' | 'accepted' | 'rejected' | 'retyped' | 'resized';

/** `ReviewSpanDto`: one span in review; `start`/`end` are char offsets as it stands now. */
export interface ReviewSpan {
  id: number;
  recordId: number;
  origin: 'detected' | 'added';
  state: SpanState;
  start: number;
  end: number;
  byteStart: number;
  byteEnd: number;
  type: string;
  detectedType: string;
  score: number;
  text: string;
  explanation: Record<string, unknown>;
  decidedBy: string | null;
}

/** `ReviewNoteDto`: a note with its spans. */
export interface ReviewNote {
  record: NoteRecord;
  state: 'open' | 'signed_off';
  spans: ReviewSpan[];
  undecided: number;
}

/** `ReviewCountsDto`: notes signed off and spans per state. */
export interface ReviewCounts {
  datasetId: number;
  notes: number;
  signedOff: number;
  spans: Record<SpanState, number>;
}

/** `DetectSummaryDto`: what a detection run queued. */
export interface DetectSummary {
  datasetId: number;
  notes: number;
  skippedSignedOff: number;
  spans: number;
  perType: Record<string, number>;
  allowTerms: number;
  denyTerms: number;
}

/** `DecisionDto`: offsets of `resize` are char offsets. */
export type Decision =
  | { kind: 'accept' }
  | { kind: 'reject' }
  | { kind: 'retype'; type: string }
  | { kind: 'resize'; start: number; end: number };

/** `BulkAcceptDto`. */
export interface BulkAccept {
  type?: string | null;
  minScore?: number | null;
  signOff?: boolean;
  spotCheck?: number | null;
  seed?: number | null;
  reason?: string | null;
}

/** `BulkResultDto`. */
export interface BulkResult {
  datasetId: number;
  accepted: number;
  signedOff: number;
  openNotes: number;
  spotCheck: number[];
  seed: number;
}

/** `ReleaseDto` (snake_case: the CLI's `--json` contract). */
export interface Release {
  version_id: number;
  release_id: number;
  dataset_id: number;
  strategy: string;
  sha256: string;
  records: number;
  spans: number;
  released_by: string;
  released_at: string;
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
  record: (id: number) => invoke<NoteRecord>('get_record', { id }),
  session: () => invoke<Session>('session'),
  reviewDetect: (datasetId: number) => invoke<DetectSummary>('review_detect', { datasetId }),
  reviewCounts: (datasetId: number) => invoke<ReviewCounts>('review_counts', { datasetId }),
  reviewOpenNotes: (datasetId: number) => invoke<number[]>('review_open_notes', { datasetId }),
  reviewNote: (recordId: number) => invoke<ReviewNote>('review_note', { recordId }),
  reviewDecide: (spanId: number, decision: Decision) => invoke<ReviewSpan>('review_decide', { spanId, decision }),
  reviewAddSpan: (recordId: number, start: number, end: number, entity: string) =>
    invoke<ReviewSpan>('review_add_span', { recordId, start, end, entity }),
  reviewUndo: (recordId: number) => invoke<ReviewNote>('review_undo', { recordId }),
  reviewSignOff: (recordId: number) => invoke<null>('review_sign_off', { recordId }),
  reviewAcceptAll: (datasetId: number, request: BulkAccept) => invoke<BulkResult>('review_accept_all', { datasetId, request }),
  release: (datasetId: number, strategy: 'tag' | 'mask' | 'surrogate') => invoke<Release>('release_dataset', { datasetId, strategy }),
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
