// The state of the training run in progress, kept outside the Training screen so that leaving the
// screen and coming back shows the same live curves. Filled only by the backend's "train-progress"
// and "train-done" events; nothing here is computed or invented.
import { onTraining, type TrainDone, type TrainProgress } from '../backend';

export interface LivePoint {
  x: number;
  y: number;
}

class LiveRun {
  runId = $state<string | null>(null);
  active = $state(false);
  cancelling = $state(false);
  last = $state<TrainProgress | null>(null);
  stepsTotal = $state<number | null>(null);
  storage = $state<string | null>(null);
  loss = $state<LivePoint[]>([]);
  validation = $state<LivePoint[]>([]);
  zeroShot = $state<number | null>(null);
  done = $state<TrainDone | null>(null);
  /** Runs that ended before the screen learnt their id (a short run can finish before the
   * command that started it returns): their end is kept for `begin`. */
  private early = new Map<string, TrainDone>();

  /** A run was started (or resumed) with this id: clear what the previous one showed. */
  begin(runId: string) {
    this.runId = runId;
    this.active = true;
    this.cancelling = false;
    this.last = null;
    this.stepsTotal = null;
    this.storage = null;
    this.loss = [];
    this.validation = [];
    this.zeroShot = null;
    this.done = null;
    const ended = this.early.get(runId);
    if (ended) {
      this.early.delete(runId);
      this.finish(ended);
    }
  }

  progress(p: TrainProgress) {
    if (this.runId !== null && p.runId !== this.runId) return;
    if (this.runId === null) this.begin(p.runId);
    if (p.stepsTotal !== null) this.stepsTotal = p.stepsTotal;
    switch (p.event) {
      case 'started':
        this.storage = p.detail;
        break;
      case 'zero_shot':
        this.zeroShot = p.validationMacroF1;
        this.validation = [...this.validation, { x: 0, y: p.validationMacroF1 ?? 0 }];
        break;
      case 'step':
        this.last = p;
        if (p.step !== null && p.loss !== null) this.loss = [...this.loss, { x: p.step, y: p.loss }];
        break;
      case 'validation':
        if (p.epoch !== null && p.validationMacroF1 !== null) this.validation = [...this.validation, { x: p.epoch, y: p.validationMacroF1 }];
        break;
      case 'checkpoint':
        break;
    }
  }

  finish(d: TrainDone) {
    if (this.runId !== null && d.runId !== this.runId) {
      this.early.set(d.runId, d);
      return;
    }
    this.done = d;
    this.active = false;
    this.cancelling = false;
  }
}

export const live = new LiveRun();
let listening: Promise<unknown> | null = null;

/** Starts listening to training events once for the life of the window. */
export function listenToTraining() {
  listening ??= onTraining(
    (p) => live.progress(p),
    (d) => live.finish(d),
  );
  return listening;
}
