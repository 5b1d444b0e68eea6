// The status bar's model, free of VS Code: the countdown (kept from the last
// torchexam/timer note and the clock, so it ticks between notes) and the best
// score of the task whose file is open. Pure, so `node --test` covers it.

export interface TaskState {
  id: string;
  folder: string;
  best_score: number;
  last_verdict: string;
}

export interface TimerNote {
  session: string;
  remaining_s: number;
  warning_minutes: number | null;
  state?: string;
}

// "4:59:07", "9:05", "0:59"; never below zero.
export function formatRemaining(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

// The task whose folder holds `file` (a path), if any.
export function taskOf(file: string | undefined, tasks: TaskState[]): TaskState | undefined {
  if (!file) return undefined;
  const dir = file.replace(/\/[^/]*$/, '');
  return tasks.find((t) => t.folder.replace(/\/+$/, '') === dir);
}

export class StatusModel {
  private deadlineMs: number | undefined;
  private state = 'running';
  private tasks: TaskState[] = [];

  timer(note: TimerNote, nowMs: number): void {
    this.deadlineMs = nowMs + note.remaining_s * 1000;
    if (note.state) this.state = note.state;
  }

  setTasks(tasks: TaskState[]): void {
    this.tasks = tasks;
  }

  remaining(nowMs: number): number | undefined {
    return this.deadlineMs === undefined ? undefined : Math.max(0, (this.deadlineMs - nowMs) / 1000);
  }

  // The status bar text, or undefined when there is no session to show.
  text(nowMs: number, activeFile: string | undefined): string | undefined {
    const left = this.remaining(nowMs);
    if (left === undefined) return undefined;
    let clock: string;
    if (this.state === 'closed' || this.state === 'stopped') clock = `$(lock) exam ${this.state}`;
    else if (this.state === 'paused') clock = `$(debug-pause) ${formatRemaining(left)} paused`;
    else clock = `$(watch) ${formatRemaining(left)}`;
    const task = taskOf(activeFile, this.tasks);
    return task ? `${clock} · ${task.id} best ${task.best_score}/5` : clock;
  }

  // Under ten minutes the item turns to a warning colour.
  urgent(nowMs: number): boolean {
    const left = this.remaining(nowMs);
    return left !== undefined && left < 600 && this.state === 'running';
  }
}
