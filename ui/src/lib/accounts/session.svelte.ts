// Who is logged in, for the screens that show or hide an action by role. The backend checks every
// command against the permission matrix whatever this says: hiding a button is not a control.
import type { Session } from '../backend';

export const current = $state<{ session: Session | null }>({ session: null });

/** Whether the logged-in user is a clinician (reads released versions only). */
export function isClinician(): boolean {
  return current.session?.role === 'clinician';
}
