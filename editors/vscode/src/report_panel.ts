// The report in a webview panel, and the live loss curve drawn in that same
// panel while a grading trains. Scripts stay off in the panel: the report is
// the static HTML `torchexam lsp` writes (harness/report/), and the live
// curve is an SVG this file writes anew from the progress notes, at most
// once a second. Both pages forbid loading anything (Content-Security-Policy).
import * as vscode from 'vscode';

// What `torchexam lsp` forwards as torchexam/progress: the daemon's
// submission/progress params (docs/protocol.md §6).
export interface ProgressNote {
  session: string;
  submission: number;
  task: string;
  stage: string;
  kind?: 'batch' | 'epoch';
  epoch?: number;
  epochs?: number;
  loss?: number | null;
  elapsed_s?: number;
  budget_left_s?: number;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' }[c]!));
}

// True for a report `torchexam report` or the language server wrote.
export function isReportUri(uri: string): boolean {
  return /^file:\/\/.*\/torchexam-report[^/]*\.html$/.test(uri);
}

// The loss of one submission's batch notes, in order.
export class LiveLoss {
  readonly points: number[] = [];
  stage = 'queued';
  epoch = 0;
  epochs = 0;
  elapsed = 0;
  budget = 0;
  constructor(readonly submission: number, readonly task: string) {}

  add(note: ProgressNote): void {
    this.stage = note.stage;
    if (note.kind === undefined) return;
    this.epoch = note.epoch ?? this.epoch;
    this.epochs = note.epochs ?? this.epochs;
    this.elapsed = note.elapsed_s ?? this.elapsed;
    if (note.budget_left_s !== undefined) this.budget = this.elapsed + note.budget_left_s;
    if (note.kind === 'batch' && typeof note.loss === 'number' && Number.isFinite(note.loss)) this.points.push(note.loss);
  }
}

const fixed = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '0');

// The live curve as a whole page: the loss per reported step, epoch and time used.
export function liveLossHtml(live: LiveLoss): string {
  const w = 640, h = 260, left = 56, right = 16, top = 16, bottom = 36;
  const n = live.points.length;
  let lo = Math.min(...live.points), hi = Math.max(...live.points);
  if (!(hi > lo)) { lo = (lo || 0) - 1; hi = (hi || 0) + 1; }
  const x = (i: number) => left + (n <= 1 ? 0 : (i / (n - 1)) * (w - left - right));
  const y = (v: number) => h - bottom - ((v - lo) / (hi - lo)) * (h - top - bottom);
  const line = live.points.map((v, i) => `${fixed(x(i))},${fixed(y(v))}`).join(' ');
  const title = `Live training loss of submission ${live.submission} (${live.task})`;
  const status = live.stage === 'train'
    ? `training: epoch ${live.epoch}/${live.epochs}, ${fixed(live.elapsed, 0)} s of a ${fixed(live.budget, 0)} s budget`
    : `${live.stage}`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
    + `<title>${escapeHtml(title)}</title><style>body{font:14px system-ui,sans-serif;background:#fff;color:#1b1f24;margin:16px}`
    + `svg{max-width:100%;height:auto}.axis{stroke:#6e7781}.loss{fill:none;stroke:#08519c;stroke-width:2}</style></head><body>`
    + `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(status)} · ${n} reported step${n === 1 ? '' : 's'}</p>`
    + `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-labelledby="t d"><title id="t">${escapeHtml(title)}</title>`
    + `<desc id="d">The loss of each progress report so far, from ${fixed(lo, 4)} to ${fixed(hi, 4)}.</desc>`
    + `<line class="axis" x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}"/>`
    + `<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}"/>`
    + `<text x="${left - 6}" y="${fixed(y(hi) + 4)}" text-anchor="end">${fixed(hi, 3)}</text>`
    + `<text x="${left - 6}" y="${fixed(y(lo) + 4)}" text-anchor="end">${fixed(lo, 3)}</text>`
    + `<text x="${(w + left) / 2}" y="${h - 8}" text-anchor="middle">reported step</text>`
    + (n > 0 ? `<polyline class="loss" points="${line}"/>` : '')
    + `</svg><p>When the grading ends, run "TorchExam: Open report" for the full report.</p></body></html>`;
}

export class ReportPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private live: LiveLoss | undefined;
  private lastDrawn = -Infinity;

  constructor(private readonly readFile: (path: string) => Promise<string>,
              private readonly now: () => number = Date.now) {}

  private show(title: string, html: string, focus: boolean): void {
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel('torchexam.report', title,
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: !focus }, { enableScripts: false });
      this.panel.onDidDispose(() => { this.panel = undefined; });
    } else {
      this.panel.reveal(undefined, !focus);
    }
    this.panel.title = title;
    this.panel.webview.html = html;
  }

  // Shows the report file at `path`.
  async showReport(path: string): Promise<void> {
    const html = await this.readFile(path);
    this.live = undefined;
    this.show('TorchExam report', html, true);
  }

  // A progress note: the live curve of the submission that is training.
  progress(note: ProgressNote): void {
    if (!this.live || this.live.submission !== note.submission) {
      if (note.stage !== 'train') return;  // nothing to draw before training starts
      this.live = new LiveLoss(note.submission, note.task);
      this.lastDrawn = -Infinity;
    }
    this.live.add(note);
    // At most once a second while training; at once when training ends.
    if (note.stage === 'train' && this.now() - this.lastDrawn < 1000) return;
    this.lastDrawn = this.now();
    this.show(`TorchExam: ${note.task} training`, liveLossHtml(this.live), false);
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
