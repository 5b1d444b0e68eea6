// The controller with a stubbed `vscode` and a fake server: status bar,
// commands, and what they send to `torchexam lsp`.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { answers, doc, recorded, reset, statusItem, vscode } from './vscode_stub';
import { Controller, ExamServer, Launcher } from '../src/controller';
import { TimerNote } from '../src/status';

class FakeServer implements ExamServer {
  calls: { command: string; args: unknown[] }[] = [];
  replies: Record<string, any> = {};
  timer: ((n: TimerNote) => void) | undefined;
  async executeCommand(command: string, args: unknown[]) {
    this.calls.push({ command, args });
    const r = this.replies[command];
    if (r instanceof Error) throw r;
    return r;
  }
  onTimer(handler: (n: TimerNote) => void) { this.timer = handler; }
}

const noLauncher: Launcher = { start: async () => { throw new Error('not expected'); } };
let now = 0;
const setup = (launcher = noLauncher) => {
  const server = new FakeServer();
  const c = new Controller(server, launcher, () => now);
  return { server, c };
};

beforeEach(() => { reset(); now = 1_000_000; });

test('a timer note from the server shows the countdown, which ticks on its own', () => {
  const { server, c } = setup();
  assert.ok(recorded.commands.has('torchexam.startExam'));
  assert.ok(recorded.commands.has('torchexam.submitCurrentTask'));
  assert.ok(recorded.commands.has('torchexam.showHistory'));
  c.render();
  assert.equal(statusItem.visible, false, 'hidden until there is a session');
  server.timer!({ session: 's', remaining_s: 1800, warning_minutes: 30 });
  assert.equal(statusItem.visible, true);
  assert.equal(statusItem.text, '$(watch) 30:00');
  now += 1000;
  c.render();
  assert.equal(statusItem.text, '$(watch) 29:59');
  c.dispose();
});

test('the status from the server adds the open task\'s best score', async () => {
  const { server, c } = setup();
  server.replies['torchexam.status'] = { session: 's', state: 'running', remaining_s: 7200,
    tasks: [{ id: 'fashion_mnist', folder: '/ws/fashion_mnist', best_score: 3, last_verdict: 'ok' }] };
  vscode.window.activeTextEditor = { document: doc('/ws/fashion_mnist/solution.cpp') };
  await c.refreshStatus();
  assert.equal(statusItem.text, '$(watch) 2:00:00 · fashion_mnist best 3/5');
  c.dispose();
});

test('submit saves a modified solution first, then sends its URI', async () => {
  const { server, c } = setup();
  const d = doc('/ws/fashion_mnist/solution.cpp', true);
  vscode.window.activeTextEditor = { document: d };
  server.replies['torchexam.submit'] = { task: 'fashion_mnist', submission: 7, queue_position: 0 };
  await recorded.commands.get('torchexam.submitCurrentTask')!();
  assert.equal(d.saves, 1);
  assert.deepEqual(server.calls, [{ command: 'torchexam.submit', args: ['file:///ws/fashion_mnist/solution.cpp'] }]);
  assert.deepEqual(recorded.info, ['TorchExam: fashion_mnist submitted (submission 7).']);
  c.dispose();
});

test('submit refuses other files and unsaved files, and reports the server\'s error', async () => {
  const { server, c } = setup();
  vscode.window.activeTextEditor = { document: doc('/ws/notes.md') };
  await c.submitCurrentTask();
  vscode.window.activeTextEditor = { document: doc('/ws/fashion_mnist/solution.cpp', true, false) };
  await c.submitCurrentTask();
  assert.equal(server.calls.length, 0);
  assert.deepEqual(recorded.errors, ["TorchExam: open a task's solution.cpp first.",
                                     'TorchExam: could not save the file; nothing was submitted.']);
  vscode.window.activeTextEditor = { document: doc('/ws/fashion_mnist/solution.cpp') };
  server.replies['torchexam.submit'] = new Error('the exam closed at 20260302-152000 UTC');
  await c.submitCurrentTask();
  assert.equal(recorded.errors[2], 'TorchExam: the exam closed at 20260302-152000 UTC');
  c.dispose();
});

test('history lists newest first and restores only after confirmation', async () => {
  const { server, c } = setup();
  vscode.window.activeTextEditor = { document: doc('/ws/fashion_mnist/solution.cpp') };
  server.replies['torchexam.history'] = { submissions: [
    { submission: 1, score: 2, verdict: 'ok', state: 'finished', message: 'accuracy 0.5' },
    { submission: 2, score: 0, verdict: 'compile_error', state: 'finished', message: 'error' }] };
  server.replies['torchexam.restore'] = { file: '/ws/fashion_mnist/solution.cpp', previous_copy: '/ws/fashion_mnist/.solution.cpp.before-restore-x' };
  let shown: any[] = [];
  answers.quickPick = (items) => { shown = items; return items[1]; };
  answers.warning = undefined;  // the user dismisses the confirmation
  await c.showHistory();
  assert.deepEqual(shown.map((i) => i.label), ['#2 0/5 compile_error', '#1 2/5 ok']);
  assert.equal(server.calls.some((x) => x.command === 'torchexam.restore'), false);
  answers.warning = 'Restore';
  await c.showHistory();
  assert.deepEqual(server.calls.at(-1), { command: 'torchexam.restore', args: [1] });
  c.dispose();
});

test('start exam runs the launcher on the open folder and shows the clock', async () => {
  const started: string[][] = [];
  const { c } = setup({ start: async (env, ws) => { started.push([env, ws]);
    return { session: 'abc', remaining_s: 18000, tasks: [] }; } });
  await c.startExam();
  assert.deepEqual(recorded.errors, ['TorchExam: open the (empty) folder to hold the exam first.']);
  vscode.workspace.workspaceFolders = [{ uri: { fsPath: '/home/ana/exam' } }];
  answers.openDialog = [{ fsPath: '/opt/torchexam/environments/practice' }];
  await c.startExam();
  assert.deepEqual(started, [['/opt/torchexam/environments/practice', '/home/ana/exam']]);
  assert.equal(statusItem.text, '$(watch) 5:00:00');
  assert.match(recorded.info[0], /session abc started/);
  c.dispose();
});

test('start exam against a proctored server joins it in the open folder, asks for no environment', async () => {
  const joined: string[] = [];
  const { c, server } = setup({
    start: async () => { throw new Error('not expected'); },
    join: async (ws) => { joined.push(ws); return { session: 'f00d', started: true, server: 'exam.example.org:7443', kept: [] }; },
  });
  server.replies['torchexam.status'] = { session: 'f00d', remaining_s: 18000, state: 'running', tasks: [] };
  vscode.workspace.workspaceFolders = [{ uri: { fsPath: '/home/ana/exam' } }];
  answers.openDialog = [{ fsPath: '/should/not/be/asked' }];
  await c.startExam();
  assert.deepEqual(joined, ['/home/ana/exam']);
  assert.equal(server.calls.some((x) => x.command === 'torchexam.status'), true, 'the clock comes from the server');
  assert.equal(statusItem.text, '$(watch) 5:00:00');
  assert.match(recorded.info[0], /session f00d started on exam.example.org:7443/);
  c.dispose();
});

test('a refused join shows the CLI\'s message', async () => {
  const { c } = setup({
    start: async () => { throw new Error('not expected'); },
    join: async () => { throw new Error('the server exam.example.org:7443 refused the login: unauthorized'); },
  });
  vscode.workspace.workspaceFolders = [{ uri: { fsPath: '/home/ana/exam' } }];
  await c.startExam();
  assert.deepEqual(recorded.errors, ['TorchExam: the server exam.example.org:7443 refused the login: unauthorized']);
  c.dispose();
});
