// The names of the inline icons drawn by Icon.svelte.
export type IconName =
  | 'datasets' | 'review' | 'training' | 'suggestions' | 'reports'
  | 'upload' | 'search' | 'back' | 'file' | 'check' | 'alert'
  | 'released' | 'accounts' | 'audit' | 'lock' | 'logout' | 'monitoring';
