// Small formatting helpers for the datasets screens (counts, rates, durations, dates).
const integer = new Intl.NumberFormat('en-US');

export function count(n: number): string {
  return integer.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Bytes as B / KB / MB, other units as counts. */
export function amount(n: number, unit: string): string {
  if (unit !== 'bytes') return `${count(Math.round(n))} ${unit}`;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 1) return 'under a second';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`;
}

export function date(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return d.toLocaleString('en-US', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** The file name at the end of a path, for a default dataset name. */
export function baseName(path: string): string {
  const file = path.split(/[\\/]/).filter(Boolean).pop() ?? '';
  return file.replace(/\.[^.]+$/, '');
}
