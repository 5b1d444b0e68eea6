// The extension's behaviour, written against two small interfaces so that it
// can be tested with a stubbed `vscode` module and a fake server:
//   ExamServer — what the extension asks of `torchexam lsp` (executeCommand)
//                and hears from it (torchexam/timer);
//   Launcher   — runs `torchexam start` for the "Start exam" command, or
//                `torchexam join` when a proctored server is set.
// The language client itself (diagnostics, lenses, progress, messages) is
// vscode-languageclient's; see extension.ts.
import * as vscode from 'vscode';
import { StatusModel, TaskState, TimerNote } from './status';

export interface ExamServer {
  executeCommand(command: string, args: unknown[]): Promise<any>;
  onTimer(handler: (note: TimerNote) => void): void;
}

export interface Launcher {
  // Resolves with the exam summary (`torchexam start --json`), rejects with the CLI's message.
  start(environment: string, workspace: string): Promise<{ session: string; remaining_s: number; tasks: TaskState[] }>;
  // Present when the `torchexam.server` setting names a proctored server:
  // `torchexam join` into `workspace` (the server picks the environment).
  // Resolves with its JSON, rejects with the CLI's message.
  join?(workspace: string): Promise<{ session: string; started: boolean; server: string; kept: string[] }>;
}

export class Controller implements vscode.Disposable {
  readonly model = new StatusModel();
  readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly server: ExamServer, private readonly launcher: Launcher,
              private readonly now: () => number = Date.now) {
    this.item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
    this.item.command = 'torchexam.showHistory';
    this.item.tooltip = 'TorchExam: time left and the best score of this task (click for its history)';
    this.disposables.push(
      this.item,
      vscode.commands.registerCommand('torchexam.startExam', () => this.startExam()),
      vscode.commands.registerCommand('torchexam.submitCurrentTask', () => this.submitCurrentTask()),
      vscode.commands.registerCommand('torchexam.showHistory', () => this.showHistory()),
      vscode.commands.registerCommand('torchexam.openReport', () => this.openReport()),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
    );
    server.onTimer((note) => {
      this.model.timer(note, this.now());
      this.render();
    });
  }

  // Starts the once-a-second repaint (not in tests, which call render()).
  startTicking(): void {
    this.ticker = setInterval(() => this.render(), 1000);
  }

  async refreshStatus(): Promise<void> {
    try {
      const status = await this.server.executeCommand('torchexam.status', []);
      this.model.timer({ session: status.session, remaining_s: status.remaining_s, warning_minutes: null,
                         state: status.state }, this.now());
      this.model.setTasks(status.tasks ?? []);
    } catch {
      // No session yet: the server has said so with a message.
    }
    this.render();
  }

  render(): void {
    const file = vscode.window.activeTextEditor?.document.uri.fsPath;
    const text = this.model.text(this.now(), file);
    if (text === undefined) {
      this.item.hide();
      return;
    }
    this.item.text = text;
    this.item.backgroundColor = this.model.urgent(this.now())
      ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  private currentSolution(): vscode.TextDocument | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || !doc.uri.fsPath.endsWith('/solution.cpp')) {
      void vscode.window.showErrorMessage('TorchExam: open a task\'s solution.cpp first.');
      return undefined;
    }
    return doc;
  }

  async submitCurrentTask(): Promise<void> {
    const doc = this.currentSolution();
    if (!doc) return;
    // What is graded is the file on disk: save it first (saving alone never submits).
    if (doc.isDirty && !(await doc.save())) {
      void vscode.window.showErrorMessage('TorchExam: could not save the file; nothing was submitted.');
      return;
    }
    try {
      const r = await this.server.executeCommand('torchexam.submit', [doc.uri.toString()]);
      void vscode.window.showInformationMessage(
        `TorchExam: ${r.task} submitted (submission ${r.submission}${r.queue_position > 0 ? `, queue position ${r.queue_position}` : ''}).`);
    } catch (e: any) {
      void vscode.window.showErrorMessage(`TorchExam: ${e?.message ?? e}`);
    }
  }

  async showHistory(): Promise<void> {
    const doc = this.currentSolution();
    if (!doc) return;
    let history: { submissions: any[] };
    try {
      history = await this.server.executeCommand('torchexam.history', [doc.uri.toString()]);
    } catch (e: any) {
      void vscode.window.showErrorMessage(`TorchExam: ${e?.message ?? e}`);
      return;
    }
    if (history.submissions.length === 0) {
      void vscode.window.showInformationMessage('TorchExam: no submission of this task yet.');
      return;
    }
    const items = history.submissions.slice().reverse().map((s) => ({
      label: `#${s.submission} ${s.score}/5 ${s.verdict ?? s.state}`,
      description: s.message,
      submission: s.submission as number,
    }));
    const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Pick a submission to restore its source' });
    if (!picked) return;
    const answer = await vscode.window.showWarningMessage(
      `Restore submission ${picked.submission} into solution.cpp? The current file is kept beside it.`, { modal: true }, 'Restore');
    if (answer !== 'Restore') return;
    const r = await this.server.executeCommand('torchexam.restore', [picked.submission]);
    void vscode.window.showInformationMessage(`TorchExam: restored; the previous source is in ${r.previous_copy || 'nothing (no file was there)'}.`);
  }

  // The report of the open task, else of the session: the server writes it
  // and asks to show it (window/showDocument), which extension.ts turns into
  // the report panel.
  async openReport(): Promise<void> {
    const doc = vscode.window.activeTextEditor?.document;
    const args = doc && doc.uri.fsPath.endsWith('/solution.cpp') ? [doc.uri.toString()] : [];
    try {
      await this.server.executeCommand('torchexam.report', args);
    } catch (e: any) {
      void vscode.window.showErrorMessage(`TorchExam: ${e?.message ?? e}`);
    }
  }

  async startExam(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!folder) {
      void vscode.window.showErrorMessage('TorchExam: open the (empty) folder to hold the exam first.');
      return;
    }
    if (this.launcher.join) {
      // The server holds the environment and the clock: join lays the workspace out here.
      try {
        const joined = await this.launcher.join(folder);
        await this.refreshStatus();
        const kept = joined.kept.length ? ` Your files were kept: ${joined.kept.join(', ')}.` : '';
        void vscode.window.showInformationMessage(
          `TorchExam: session ${joined.session} ${joined.started ? 'started' : 'joined'} on ${joined.server}.${kept} Good luck!`);
      } catch (e: any) {
        void vscode.window.showErrorMessage(`TorchExam: ${e?.message ?? e}`);
      }
      return;
    }
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false, canSelectFolders: true, canSelectMany: false,
      openLabel: 'Use this exam environment', title: 'TorchExam: the exam environment (the folder with environment.yaml)',
    });
    if (!picked || picked.length === 0) return;
    try {
      const exam = await this.launcher.start(picked[0].fsPath, folder);
      this.model.setTasks(exam.tasks);
      this.model.timer({ session: exam.session, remaining_s: exam.remaining_s, warning_minutes: null }, this.now());
      this.render();
      void vscode.window.showInformationMessage(
        `TorchExam: session ${exam.session} started with ${exam.tasks.length} task(s). Good luck!`);
    } catch (e: any) {
      void vscode.window.showErrorMessage(`TorchExam: ${e?.message ?? e}`);
    }
  }

  dispose(): void {
    if (this.ticker) clearInterval(this.ticker);
    for (const d of this.disposables) d.dispose();
  }
}
