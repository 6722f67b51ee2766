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

/** A readable message for anything a command rejected with. A refusal by the permission matrix
 *  says so first, so that a screen reached without the right never looks merely broken. */
export function errorMessage(e: unknown): string {
  if (isApiError(e) && e.code === 'forbidden') return `Not permitted: ${e.message}.`;
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

/** `SplitCountsDto`: notes per split. */
export interface SplitCounts {
  train: number;
  validation: number;
  test: number;
}

/** `LabelStatDto`: one label's notes per split (and its ICD-10-CM name when known). */
export interface LabelStat {
  label: string;
  name: string | null;
  notes: SplitCounts;
}

/** `LengthBinDto`: notes of at most `upTo` tokens (the last bin is open: `upTo` null). */
export interface LengthBin {
  upTo: number | null;
  notes: number;
}

/** `PresetCutDto`: how many notes a preset cuts short. */
export interface PresetCut {
  preset: string;
  maxLen: number;
  truncated: number;
  share: number;
}

/** `LengthStatsDto`: note length in the default model's tokens. */
export interface LengthStats {
  tokenizer: string;
  counted: number;
  median: number;
  p90: number;
  max: number;
  bins: LengthBin[];
  presets: PresetCut[];
}

/** `DuplicatePairDto`: two record ids and how alike their texts are (1 for an exact copy). */
export interface DuplicatePair {
  a: number;
  b: number;
  similarity: number;
  splits: [string, string];
}

/** `DuplicatesDto`: exact and near duplicates, and the pairs that cross into evaluation. */
export interface Duplicates {
  exact: number;
  nearPairs: number;
  nearThreshold: number;
  acrossSplits: number;
  examples: DuplicatePair[];
}

/** `PatientsDto`: notes per patient (`[notes, patients]` rows) and patients in several splits. */
export interface Patients {
  notesWithPatient: number;
  patients: number;
  maxNotes: number;
  notesPerPatient: [number, number][];
  acrossSplits: number;
}

/** `PhiTypeDto`: the review's spans of one PHI type. */
export interface PhiType {
  entity: string;
  redacted: number;
  added: number;
  rejected: number;
  undecided: number;
}

/** `DatasetStatsDto`: what a dataset can support before training. */
export interface DatasetStats {
  datasetId: number;
  name: string;
  notes: number;
  splits: SplitCounts;
  unlabelled: number;
  labels: LabelStat[];
  rareLabels: number;
  rareThreshold: number;
  multiLabel: boolean;
  length: LengthStats;
  duplicates: Duplicates;
  patients: Patients;
  phi: PhiType[];
  warnings: string[];
}

/** `PromotionDto`: a run put into use for a dataset's task (current while `endedAt` is null). */
export interface Promotion {
  id: number;
  datasetId: number;
  runId: string;
  versionId: number;
  reportSha256: string;
  /** The test-split figures of the report built at promotion (cases, accuracy, microF1, macroF1, weightedF1, macroF1Low/High). */
  metrics: Record<string, number>;
  reason: string;
  promotedBy: string;
  promotedAt: string;
  endedBy: string | null;
  endedAt: string | null;
  endReason: string | null;
}

/** `Thresholds`: where a week of monitoring raises an alert (an admin sets them). */
export interface MonitorThresholds {
  minSuggestions: number;
  minAcceptance: number;
  minTop5: number;
  maxPsi: number;
  maxUnseen: number;
  maxCalibrationGap: number;
}

/** `WeekDto`: one week (from its Monday) of one model's suggestions. */
export interface MonitorWeek {
  week: string;
  suggestions: number;
  accepted: number;
  rejected: number;
  acceptance: number | null;
  withGold: number;
  top5Share: number | null;
  meanTopProbability: number;
  top1Accuracy: number | null;
  calibrationGap: number | null;
  meanWords: number;
  lengthPsi: number | null;
  unseenShare: number | null;
  labelPsi: number | null;
  alerts: string[];
}

/** `ModelWatchDto`: one model's weeks. */
export interface ModelWatch {
  model: string;
  datasetId: number | null;
  inUse: boolean;
  weeks: MonitorWeek[];
  weeksAlerting: number;
}

/** `MonitorDto`: the Monitoring screen. */
export interface Monitor {
  thresholds: MonitorThresholds;
  models: ModelWatch[];
}

/** `FeedbackDatasetDto`: a dataset made of clinicians' verdicts, to review and release. */
export interface FeedbackDataset {
  datasetId: number;
  name: string;
  notes: number;
  verdicts: number;
  fromRecords: number[];
}

/** `SuccessorDto`: a retrained run against the run in use, on held-out notes. */
export interface SuccessorComparison {
  successor: string;
  comparedWith: string;
  heldOut: number;
  leftOut: number;
  macroF1Before: number;
  macroF1After: number;
  difference: number;
  low: number;
  high: number;
  pValue: number;
  offered: boolean;
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

/** `WorkspaceStatusDto`: first run (no database yet), locked (log in) or open (a session). */
export interface WorkspaceStatus {
  state: 'first_run' | 'locked' | 'open';
  path: string;
  encrypted: boolean;
  session: Session | null;
  minPasswordChars: number;
  error: ApiError | null;
}

/** `UserDto`: one account (never its password hash). */
export interface User {
  name: string;
  role: Session['role'];
  disabled: boolean;
  createdAt: string;
  createdBy: string;
}

/** `AuditEntryDto`: one entry of the hash-chained audit trail. */
export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  before: unknown;
  after: unknown;
  reason: string;
  prevHash: string;
  hash: string;
}

/** `AuditFilterDto`: every field optional; `from`/`to` are UTC days (YYYY-MM-DD), inclusive. */
export interface AuditFilter {
  actor?: string | null;
  action?: string | null;
  subject?: string | null;
  subjectContains?: string | null;
  from?: string | null;
  to?: string | null;
  afterSeq?: number | null;
  beforeSeq?: number | null;
  limit?: number | null;
}

/** `AuditVerifyDto`: the chain walked; `brokenSeq` names the first broken entry. */
export interface AuditVerify {
  ok: boolean;
  entries: number;
  headSeq: number | null;
  headHash: string | null;
  brokenSeq: number | null;
  reason: string | null;
  /** SQLite's integrity check of the database file: 'ok', or the problems found. */
  integrity: string;
}

/** `AuditExportDto`: what an audit export wrote. */
export interface AuditExport {
  path: string;
  format: string;
  entries: number;
  sha256: string;
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
  contextTerms: number;
  detector: Detector;
}

/** `DetectorDto`: which PHI detectors ran (`rules`, `tagger`), and why the tagger did not. */
export interface Detector {
  sources: string[];
  version: number | null;
  warning: string | null;
}

/** `GoldFiguresDto`: the union's token figures on a dataset's gold notes. */
export interface GoldFigures {
  tokenRecall: number;
  tokenPrecision: number;
}

/** `PieceScore`: piece-level figures of the tagger at one threshold. */
export interface PieceScore {
  threshold: number;
  recall: number;
  precision: number;
  f2: number;
}

/** `Epoch`: one epoch of a retraining (validation is empty: gold notes are kept for the verdict). */
export interface RetrainEpoch {
  epoch: number;
  loss: number;
  validation: PieceScore;
}

/** `RetrainDto`: one retraining of the PHI tagger on the steward's signed-off notes. */
export interface Retrain {
  datasetId: number;
  versionId: number;
  startedFrom: number | null;
  kept: boolean;
  verdict: string;
  examples: number;
  exampleSpans: number;
  /** Signed-off notes held back to choose the new head's threshold. */
  heldBack: number;
  threshold: number;
  goldNotes: number;
  before: GoldFigures;
  after: GoldFigures;
  epochs: RetrainEpoch[];
  seconds: number;
}

/** `DetectorVersionDto`: a stored retrained version of the tagger. */
export interface DetectorVersion {
  id: number;
  datasetId: number;
  examples: number;
  goldNotes: number;
  recallBefore: number;
  recallAfter: number;
  kept: boolean;
  active: boolean;
  createdBy: string;
  createdAt: string;
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

/** `TermDto`: a learned term; `context` words are the words right before an added span, per type. */
export interface Term {
  id: number;
  list: 'allow' | 'deny' | 'context';
  term: string;
  type: string | null;
  datasetId: number | null;
  proposedBy: string;
  confirmed: boolean;
}

/** `GoldSampleDto`: notes drawn at random as gold, to review and sign off. */
export interface GoldSample {
  sampleId: number;
  datasetId: number;
  seed: number;
  recordIds: number[];
}

/** `GoldImportDto`: what an imported gold file stored. */
export interface GoldImport {
  datasetId: number;
  format: string;
  notes: number;
  spans: number;
  unmatched: number;
  unmatchedIds: string[];
}

/** `GoldNoteDto`: a gold note and whether it is measured yet. */
export interface GoldNote {
  recordId: number;
  externalId: string | null;
  source: 'sample' | 'import';
  status: 'measured' | 'open' | 'undetected';
}

/** `TypeQualityDto`: recall of the gold of one type, precision of the detections of that type. */
export interface TypeQuality {
  type: string;
  support: number;
  found: number;
  spanRecall: number | null;
  tokenRecall: number | null;
  detected: number;
  spanPrecision: number | null;
  tokenPrecision: number | null;
  inScope: boolean;
}

/** `QualityFindingDto`: a miss or a false positive with the text around it (char offsets). */
export interface QualityFinding {
  recordId: number;
  type: string;
  text: string;
  before: string;
  after: string;
  start: number;
  end: number;
  pattern: string;
  score: number;
}

/** `QualityDto`: detector quality on a dataset's gold notes. */
export interface Quality {
  datasetId: number;
  measured: number;
  notes: GoldNote[];
  goldSpans: number;
  goldTokens: number;
  detectedSpans: number;
  spanRecall: number;
  spanPrecision: number;
  tokenRecall: number;
  tokenPrecision: number;
  f2: number;
  perType: TypeQuality[];
  outOfScope: string[];
  missesTotal: number;
  misses: QualityFinding[];
  falsePositivesTotal: number;
  falsePositives: QualityFinding[];
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

// ---- Training, suggestions, reports -------------------------------------------------------------

/** `localdx_train::Metrics` (snake_case, as the training crate writes it). */
export interface Metrics {
  accuracy: number;
  macro_f1: number;
  micro_f1: number;
  count: number;
}

/** `RunDto`: one training run under runs/. */
export interface Run {
  runId: string;
  status: string;
  datasetId: string | null;
  model: string;
  epochs: number;
  rank: number;
  dp: boolean;
  zeroShot: Metrics | null;
  best: Metrics | null;
  epsilon: number | null;
}

/** `TrainRequest`: null fields take the preset's value. */
export interface TrainRequest {
  datasetId: number;
  model: string | null;
  preset: string | null;
  epochs: number | null;
  rank: number | null;
  dpEpsilon: number | null;
  seed: number | null;
  maxLen: number | null;
  lastLayers: number | null;
}

/** `TrainProgressDto`: one "train-progress" event; fields that do not apply are null. */
export interface TrainProgress {
  runId: string;
  event: 'started' | 'zero_shot' | 'step' | 'validation' | 'checkpoint';
  step: number | null;
  stepsTotal: number | null;
  loss: number | null;
  tokensPerSecond: number | null;
  etaSeconds: number | null;
  epoch: number | null;
  validationMacroF1: number | null;
  validationAccuracy: number | null;
  improved: boolean | null;
  detail: string | null;
}

/** `TrainDoneDto`: the one "train-done" event at the end of a run. */
export interface TrainDone {
  runId: string;
  ok: boolean;
  error: ApiError | null;
}

/** `ModelChoiceDto`: a base model with its size, licence and memory estimate. */
export interface ModelChoice {
  name: string;
  bytes: number;
  supported: boolean;
  detail: string;
  isDefault: boolean;
  license: string | null;
  parameters: number | null;
  ramEstimateBytes: number | null;
}

/** `PresetEstimateDto`: a preset's settings and its time on this machine, when measured. */
export interface PresetEstimate {
  preset: string;
  epochs: number;
  maxLen: number;
  rank: number;
  lastLayers: number | null;
  trainTokens: number;
  seconds: number | null;
  basis: string;
}

/** `TrainPlanDto`: what the Training screen offers for one dataset. */
export interface TrainPlan {
  models: ModelChoice[];
  presets: PresetEstimate[];
  trainNotes: number;
  validationNotes: number;
  labels: number;
  totalMemoryBytes: number | null;
  availableMemoryBytes: number | null;
}

/** `SpanDto` of crates/api/src/phi.rs: detected PHI; `start`/`end` are char offsets. */
export interface PhiSpan {
  start: number;
  end: number;
  type: string;
  score: number;
  byteStart: number;
  byteEnd: number;
  text: string;
  baseScore: number;
  detector: string;
  pattern: string;
  contextWord: string | null;
  contextDelta: number | null;
  merged: number;
  /** Other detectors whose detections were merged into this one (e.g. `tagger` beside a rule). */
  alsoFoundBy: string[];
}

/** Which model suggests (`ModelChoice` of crates/api/src/suggest.rs, tagged by `kind`). */
export type SuggestModel = { kind: 'run'; runId: string } | { kind: 'base'; model: string; datasetId: number };

/** `SuggestedLabelDto`. */
export interface SuggestedLabel {
  label: string;
  probability: number;
  icd10: boolean;
  name: string | null;
  /** Words of the note matching the label's name, in note order. */
  evidence: Evidence[];
}

/** `EvidenceDto`: a word of the note (char offsets) matching a suggested label's name; a denied or
 *  a relative's finding is shown but gives no support. */
export interface Evidence {
  start: number;
  end: number;
  text: string;
  negated: boolean;
  relative: boolean;
}

/** `AttributionDto`: a stretch of the note (char offsets) whose removal lowered the top label. */
export interface Attribution {
  start: number;
  end: number;
  text: string;
  drop: number;
}

/** `SuggestionDto`. */
export interface Suggestion {
  model: string;
  labels: SuggestedLabel[];
  attribution: Attribution[];
  tokens: number;
  maxTokens: number;
  windows: number;
  scoreSeconds: number;
  attributionSeconds: number;
}

/** `FeedbackInputDto`: a verdict on a suggestion; a typed note is stored only with `saveNote`. */
export interface FeedbackInput {
  datasetId: number | null;
  recordId: number | null;
  noteText: string | null;
  saveNote: boolean;
  model: string;
  label: string;
  verdict: 'accept' | 'reject' | 'add';
  probability: number | null;
}

/** `FeedbackDto`. */
export interface Feedback {
  id: number;
  createdAt: string;
  actor: string;
  datasetId: number | null;
  recordId: number | null;
  noteSaved: boolean;
  model: string;
  label: string;
  verdict: string;
  probability: number | null;
}

/** `FactDto`: one row of a report's header. */
export interface Fact {
  name: string;
  value: string;
}

/** A metric at a cut-off k (snake_case JSON of crates/eval, like all the evaluation types). */
export interface AtK {
  k: number;
  value: number;
}

export interface LabelRow {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  predicted: number;
  average_precision: number;
  threshold: number | null;
}

export interface PrCurve {
  precision: number[];
  recall: number[];
  thresholds: number[];
}

export interface LabelCurve {
  label: string;
  curve: PrCurve;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  mean_probability: number;
  observed: number;
}

export interface Reliability {
  bins: CalibrationBin[];
  ece: number;
}

export interface NamedInterval {
  metric: string;
  estimate: number;
  low: number;
  high: number;
}

export interface PairedDiff {
  metric: string;
  a: number;
  b: number;
  difference: number;
  low: number;
  high: number;
  p_value: number;
}

export interface McNemar {
  only_a: number;
  only_b: number;
  statistic: number;
  p_value: number;
  exact_p_value: number;
}

export interface Comparison {
  cases: number;
  metrics: PairedDiff[];
  mcnemar: McNemar | null;
}

/** `EvalDto`: the evaluation of a run on a split (the JSON of `localdx eval --json`). */
export interface Evaluation {
  kind: 'multi_class' | 'multi_label';
  cases: number;
  labels: string[];
  accuracy: number;
  micro_precision: number;
  micro_recall: number;
  micro_f1: number;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  weighted_precision: number;
  weighted_recall: number;
  weighted_f1: number;
  mean_average_precision: number;
  top_k_accuracy: AtK[];
  top_k_recall: AtK[];
  per_label: LabelRow[];
  thresholds: unknown;
  confusion: number[][] | null;
  calibration: Reliability;
  intervals: NamedInterval[];
  pr_curves?: LabelCurve[];
  thresholds_source: string;
  skipped_unlabelled: number;
  comparison: Comparison | null;
}

/** `ReportDto`: a run's report, with the same report as HTML and CSV ready to save. */
export interface Report {
  title: string;
  facts: Fact[];
  comparedWith: string | null;
  evaluation: Evaluation;
  html: string;
  csv: string;
}

export const backend = {
  workspaceInfo: () => invoke<WorkspaceInfo>('workspace_info'),
  previewImport: (path: string, options: ImportOptions) => invoke<Preview>('preview_import', { path, options }),
  importDataset: (path: string, options: ImportOptions) => invoke<ImportReport>('import_dataset', { path, options }),
  cancelImport: () => invoke<boolean>('cancel_import'),
  datasets: () => invoke<Dataset[]>('list_datasets'),
  dataset: (id: number) => invoke<DatasetDetail>('get_dataset', { id }),
  datasetStats: (datasetId: number) => invoke<DatasetStats>('dataset_stats', { datasetId }),
  records: (datasetId: number, offset: number, limit: number, search: string | null) =>
    invoke<RecordPage>('list_records', { datasetId, offset, limit, search }),
  record: (id: number) => invoke<NoteRecord>('get_record', { id }),
  session: () => invoke<Session>('session'),
  reviewDetect: (datasetId: number) => invoke<DetectSummary>('review_detect', { datasetId }),
  reviewCounts: (datasetId: number) => invoke<ReviewCounts>('review_counts', { datasetId }),
  reviewOpenNotes: (datasetId: number, uncertainFirst = false) => invoke<number[]>('review_open_notes', { datasetId, uncertainFirst }),
  reviewNote: (recordId: number) => invoke<ReviewNote>('review_note', { recordId }),
  reviewDecide: (spanId: number, decision: Decision) => invoke<ReviewSpan>('review_decide', { spanId, decision }),
  reviewAddSpan: (recordId: number, start: number, end: number, entity: string) =>
    invoke<ReviewSpan>('review_add_span', { recordId, start, end, entity }),
  reviewUndo: (recordId: number) => invoke<ReviewNote>('review_undo', { recordId }),
  reviewSignOff: (recordId: number) => invoke<null>('review_sign_off', { recordId }),
  reviewAcceptAll: (datasetId: number, request: BulkAccept) => invoke<BulkResult>('review_accept_all', { datasetId, request }),
  release: (datasetId: number, strategy: 'tag' | 'mask' | 'surrogate') => invoke<Release>('release_dataset', { datasetId, strategy }),
  reviewTerms: () => invoke<Term[]>('review_terms'),
  reviewConfirmTerm: (termId: number) => invoke<null>('review_confirm_term', { termId }),
  goldSample: (datasetId: number, size: number, seed: number | null) => invoke<GoldSample>('gold_sample', { datasetId, size, seed }),
  goldImport: (datasetId: number, path: string, format: 'deid-jsonl' | 'presidio-json') =>
    invoke<GoldImport>('gold_import', { datasetId, path, format }),
  reviewQuality: (datasetId: number) => invoke<Quality>('review_quality', { datasetId }),
  retrainDetector: (datasetId: number) => invoke<Retrain>('review_retrain_detector', { datasetId }),
  detectorVersions: () => invoke<DetectorVersion[]>('detector_versions'),
  cancelJob: () => invoke<boolean>('cancel_job'),
  runs: () => invoke<Run[]>('list_runs'),
  trainingDatasets: () => invoke<Dataset[]>('training_datasets'),
  trainingPlan: (datasetId: number) => invoke<TrainPlan>('training_plan', { datasetId }),
  startTraining: (request: TrainRequest) => invoke<string>('start_training', { request, resumeRun: null, successorOf: null, withVersion: null }),
  resumeTraining: (runId: string) => invoke<string>('start_training', { request: null, resumeRun: runId, successorOf: null, withVersion: null }),
  /** Trains a successor of `fromRun` on its release plus `withVersion` (feedback, released). */
  startRetrain: (fromRun: string, withVersion: number) => invoke<string>('start_training', { request: null, resumeRun: null, successorOf: fromRun, withVersion }),
  feedbackDataset: (versionId: number) => invoke<FeedbackDataset>('feedback_dataset', { versionId }),
  compareSuccessor: (fromRun: string, successor: string, withVersion: number) => invoke<SuccessorComparison>('compare_successor', { fromRun, successor, withVersion }),
  cancelTraining: () => invoke<boolean>('cancel_training'),
  detectPhi: (text: string) => invoke<PhiSpan[]>('detect_phi', { text }),
  testCases: (datasetId: number) => invoke<NoteRecord[]>('test_cases', { datasetId }),
  /** `recordId`: the stored case the note is (its recorded labels are logged for monitoring). */
  suggest: (choice: SuggestModel, text: string, topK: number, attribution: boolean, recordId: number | null = null) =>
    invoke<Suggestion>('suggest_note', { choice, text, topK, attribution, recordId }),
  saveFeedback: (input: FeedbackInput) => invoke<Feedback>('save_feedback', { input }),
  feedback: () => invoke<Feedback[]>('list_feedback'),
  runReport: (runId: string, vsRun: string | null, vsBase: boolean, split: string) =>
    invoke<Report>('run_report', { runId, vsRun, vsBase, split, date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC' }),
  workspaceStatus: () => invoke<WorkspaceStatus>('workspace_status'),
  createAdmin: (user: string, password: string) => invoke<Session>('create_admin', { user, password }),
  login: (user: string, password: string) => invoke<Session>('login', { user, password }),
  logout: () => invoke<WorkspaceStatus>('logout'),
  changePassword: (current: string, newPassword: string) => invoke<null>('change_password', { current, newPassword }),
  users: () => invoke<User[]>('list_users'),
  addUser: (name: string, role: User['role'], password: string) => invoke<User>('add_user', { name, role, password }),
  disableUser: (name: string, reason: string) => invoke<null>('disable_user', { name, reason }),
  auditList: (filter: AuditFilter) => invoke<AuditEntry[]>('audit_list', { filter }),
  auditVerify: () => invoke<AuditVerify>('audit_verify'),
  auditExport: (filter: AuditFilter, format: 'csv' | 'jsonl', path: string) => invoke<AuditExport>('audit_export', { filter, format, path }),
  releases: () => invoke<Release[]>('list_releases'),
  releasedRecords: (versionId: number, offset: number, limit: number) => invoke<RecordPage>('released_records', { versionId, offset, limit }),
  exportDir: () => invoke<string>('export_dir'),
  /** Writes a report the UI holds (.html or .csv); the backend checks, audits and refuses the workspace's own files. */
  exportReport: (path: string, contents: string) => invoke<string>('export_report', { path, contents }),
  promote: (runId: string, reason: string) => invoke<Promotion>('promote_run', { runId, reason }),
  demote: (datasetId: number, reason: string) => invoke<Promotion>('demote_run', { datasetId, reason }),
  promoted: (datasetId: number) => invoke<Promotion | null>('promoted_run', { datasetId }),
  promotions: () => invoke<Promotion[]>('list_promotions'),
  monitor: () => invoke<Monitor>('monitor'),
  exportModelCard: (runId: string, path: string) => invoke<string>('export_model_card', { runId, path }),
  exportReportPdf: (runId: string, vsRun: string | null, vsBase: boolean, split: string, path: string) =>
    invoke<string>('export_report_pdf', { runId, vsRun, vsBase, split, path, date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC' }),
  setMonitorThresholds: (thresholds: MonitorThresholds) => invoke<MonitorThresholds>('set_monitor_thresholds', { thresholds }),
  /** Writes the clinicians' feedback as CSV (built by the backend). */
  exportFeedback: (path: string) => invoke<string>('export_feedback', { path }),
};

/** Calls `handler` with every progress report until the returned function is called. */
export function onProgress(handler: (p: Progress) => void): Promise<UnlistenFn> {
  return listen<Progress>('progress', (event) => handler(event.payload));
}

/** Calls the handlers with a running training's progress and its end, until unlistened. */
export async function onTraining(progress: (p: TrainProgress) => void, done: (d: TrainDone) => void): Promise<UnlistenFn> {
  const a = await listen<TrainProgress>('train-progress', (event) => progress(event.payload));
  const b = await listen<TrainDone>('train-done', (event) => done(event.payload));
  return () => {
    a();
    b();
  };
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

/** The native file picker for a gold file; resolves to the chosen path, or null when cancelled. */
export async function pickGoldFile(): Promise<string | null> {
  const chosen = await open({
    multiple: false,
    directory: false,
    title: 'Choose a gold file',
    filters: [
      { name: 'Gold annotations (JSON Lines, JSON)', extensions: ['jsonl', 'json'] },
      { name: 'All files', extensions: ['*'] },
    ],
  });
  return typeof chosen === 'string' ? chosen : null;
}
