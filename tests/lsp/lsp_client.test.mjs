// `torchexam lsp` driven by VS Code's JSON-RPC implementation against a real
// daemon grading the tiny exam: the full sequence for a client with every
// optional feature, then a client that advertises none of them, then a
// folder without a session.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { TestClient, killLeftovers, torchexam, startExam, brokenSource, readText, writeText, uri } from './lsp_client.mjs';

afterEach(killLeftovers);

const fullCapabilities = {
  window: { workDoneProgress: true, showDocument: { support: true } },
  workspace: { codeLens: { refreshSupport: true } },
  textDocument: { codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['source'] } } } },
  experimental: { torchexamTimer: true },
};

const diagnosticsFor = (file, pred) => (e) =>
  e.method === 'textDocument/publishDiagnostics' && e.params.uri === uri(file) && pred(e.params.diagnostics);

test('a full client: diagnostics on save, lenses, submit with progress, score, history', async () => {
  const exam = startExam('full');
  const solution = join(exam.workspace, 'fashion_mnist', 'solution.cpp');
  const starter = readText(solution);
  const client = new TestClient(exam.workspace);
  const init = await client.initialize(exam.workspace, fullCapabilities);
  const caps = init.capabilities;
  assert.deepEqual(caps.executeCommandProvider.commands,
                   ['torchexam.submit', 'torchexam.status', 'torchexam.history', 'torchexam.restore', 'torchexam.report']);
  assert.equal(caps.codeLensProvider.resolveProvider, false);
  assert.deepEqual(caps.codeActionProvider, { codeActionKinds: ['source'] });
  for (const absent of ['hoverProvider', 'completionProvider', 'definitionProvider'])
    assert.equal(caps[absent], undefined, `${absent} is not implemented, so not advertised`);
  await client.initialized();

  const timer = await client.waitFor('torchexam/timer', (e) => e.method === 'torchexam/timer');
  assert.equal(timer.params.session, exam.session);
  assert.ok(timer.params.remaining_s > 3500 && timer.params.remaining_s <= 3600, JSON.stringify(timer.params));

  // A save with a syntax error: the daemon's check, at line 12 (0-based 11).
  writeText(solution, brokenSource(starter));
  const broken = await client.waitFor('the syntax error', diagnosticsFor(solution, (d) => d.length > 0));
  const error = broken.params.diagnostics.find((d) => d.severity === 1);
  assert.ok(error, JSON.stringify(broken.params));
  assert.equal(error.range.start.line, 11);
  assert.equal(error.code, 'syntax');
  const brokenAt = client.events.indexOf(broken);

  // Fixed: the list empties.
  writeText(solution, starter);
  await client.waitFor('the cleared list', (e) => client.events.indexOf(e) > brokenAt &&
    diagnosticsFor(solution, (d) => d.length === 0)(e));

  const lenses = await client.request('textDocument/codeLens', { textDocument: { uri: uri(solution) } });
  assert.deepEqual(lenses.map((l) => l.command.title), ['Submit & grade', 'best 0/5 · not submitted yet', 'Open report']);
  assert.equal(lenses[0].command.command, 'torchexam.submit');
  const actions = await client.request('textDocument/codeAction', {
    textDocument: { uri: uri(solution) }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    context: { diagnostics: [] } });
  assert.equal(actions[0].kind, 'source');
  assert.equal(actions[0].command.command, 'torchexam.submit');

  // Submit through the lens's own command and arguments.
  const submitted = await client.request('workspace/executeCommand', lenses[0].command);
  assert.equal(submitted.task, 'fashion_mnist');
  assert.equal(submitted.session, exam.session);
  const id = submitted.submission;
  const done = await client.waitFor('the score message', (e) => e.method === 'window/showMessage' &&
    e.params.message.startsWith('fashion_mnist: '));
  assert.match(done.params.message, /^fashion_mnist: [0-5]\/5 \(ok\) — accuracy /);
  assert.equal(done.params.type, 3);

  // Progress: create, then begin, reports with training, end with the score.
  const token = `torchexam/submission/${id}`;
  assert.ok(client.of('window/workDoneProgress/create').some((e) => e.params.token === token));
  const progress = client.of('$/progress').filter((e) => e.params.token === token).map((e) => e.params.value);
  assert.equal(progress[0].kind, 'begin');
  assert.equal(progress[0].title, `Grading fashion_mnist (submission ${id})`);
  assert.ok(progress.some((v) => v.kind === 'report' && /^training: epoch \d\/2/.test(v.message)),
            JSON.stringify(progress));
  const end = progress[progress.length - 1];
  assert.equal(end.kind, 'end');
  assert.match(end.message, /^score [0-5]\/5 \(ok\)$/);
  const percentages = progress.filter((v) => v.percentage !== undefined).map((v) => v.percentage);
  assert.deepEqual([...percentages].sort((a, b) => a - b), percentages, 'percentage never goes back');

  // The lenses are refreshed and show the new best.
  await client.waitFor('a lens refresh', (e) => e.method === 'workspace/codeLens/refresh');
  const score = Number(/(\d)\/5/.exec(done.params.message)[1]);
  const after = await client.request('textDocument/codeLens', { textDocument: { uri: uri(solution) } });
  assert.equal(after[1].command.title, `best ${score}/5 · last: ok`);

  const history = await client.request('workspace/executeCommand', { command: 'torchexam.history', arguments: ['fashion_mnist'] });
  assert.equal(history.submissions.length, 1);
  assert.equal(history.submissions[0].verdict, 'ok');
  const shown = await client.waitFor('the report', (e) => e.method === 'window/showDocument');
  assert.match(readText(new URL(shown.params.uri)), new RegExp(`\\| ${id} \\| finished \\| ok \\| ${score}/5 \\|`));

  const status = await client.request('workspace/executeCommand', { command: 'torchexam.status' });
  assert.equal(status.session, exam.session);
  assert.equal(status.tasks[0].best_score, score);

  await assert.rejects(client.request('workspace/executeCommand', { command: 'torchexam.restore', arguments: [999] }),
                       (e) => e.code === -32001);
  assert.equal(await client.shutdown(), 0);
});

test('a client without progress, lens refresh or code action literals; compile_error and contract verdicts', async () => {
  const exam = startExam('minimal');
  const solution = join(exam.workspace, 'fashion_mnist', 'solution.cpp');
  const client = new TestClient(exam.workspace);
  const init = await client.initialize(exam.workspace, {});
  assert.equal(init.capabilities.codeActionProvider, true);
  await client.initialized();
  await client.waitFor('the first log line', (e) => e.method === 'window/logMessage');

  // Submitting a file that does not compile: the verdict's diagnostic at its line.
  writeText(solution, brokenSource(readText(solution)));
  const actions = await client.request('textDocument/codeAction', {
    textDocument: { uri: uri(solution) }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    context: { diagnostics: [] } });
  assert.equal(actions[0].command, 'torchexam.submit');  // a bare Command
  const submitted = await client.request('workspace/executeCommand', { command: actions[0].command, arguments: actions[0].arguments });
  const done = await client.waitFor('the verdict', (e) => e.method === 'window/showMessage' &&
    e.params.message.startsWith('fashion_mnist: '));
  assert.match(done.params.message, /^fashion_mnist: 0\/5 \(compile_error\) — /);
  assert.equal(done.params.type, 2);
  const compile = await client.waitFor('the compile error', diagnosticsFor(solution, (d) => d.some((x) => x.code === 'compile_error')));
  assert.equal(compile.params.diagnostics.find((x) => x.code === 'compile_error').range.start.line, 11);

  const logs = client.of('window/logMessage').map((e) => e.params.message);
  assert.ok(logs.includes(`torchexam: Grading fashion_mnist (submission ${submitted.submission}): building`), logs.join('\n'));
  assert.ok(logs.includes(`torchexam: Grading fashion_mnist (submission ${submitted.submission}): score 0/5 (compile_error)`), logs.join('\n'));
  for (const unsupported of ['window/workDoneProgress/create', '$/progress', 'workspace/codeLens/refresh',
                             'torchexam/timer', 'window/showDocument'])
    assert.equal(client.of(unsupported).length, 0, `${unsupported} sent to a client that did not ask for it`);
  await client.request('workspace/executeCommand', { command: 'torchexam.history', arguments: [uri(solution)] });
  assert.equal(client.of('window/showDocument').length, 0);

  // A model with the wrong output shape: the contract verdict at the model definition.
  const wrong = readText(join(process.env.TORCHEXAM_SOURCE_DIR, 'tests/solutions/wrong_shape.cpp'));
  writeText(solution, wrong);
  const second = await client.request('workspace/executeCommand', { command: 'torchexam.submit', arguments: ['fashion_mnist'] });
  const contract = await client.waitFor('the contract verdict', (e) => e.method === 'window/showMessage' &&
    e.params.message.startsWith('fashion_mnist: 0/5 (contract)'));
  assert.match(contract.params.message, /\[N, 10\] float32/);
  const atModel = await client.waitFor('the contract diagnostic',
    diagnosticsFor(solution, (d) => d.some((x) => x.code === 'contract')));
  const modelLine = wrong.split('\n').findIndex((l) => l.startsWith('TORCH_MODULE('));
  assert.equal(atModel.params.diagnostics.find((x) => x.code === 'contract').range.start.line, modelLine);
  assert.ok(second.submission > submitted.submission);
  assert.equal(await client.shutdown(), 0);
});

test('a folder with no session: a message that says how to start one', async () => {
  const folder = join(process.env.TORCHEXAM_TEST_ROOT, 'no-exam-here');
  writeText(join(folder, 'x.cpp'), '');
  const client = new TestClient(folder);
  await client.initialize(folder, {});
  await client.initialized();
  const shown = await client.waitFor('the error', (e) => e.method === 'window/showMessage');
  assert.equal(shown.params.type, 1);
  assert.equal(shown.params.message,
               `TorchExam: no exam session for ${folder}; start one with: torchexam start ENV_DIR --workspace ${folder}`);
  await assert.rejects(client.request('workspace/executeCommand', { command: 'torchexam.submit', arguments: ['fashion_mnist'] }),
                       (e) => e.code === -32001 && /torchexam start/.test(e.message));
  assert.equal(await client.shutdown(), 0);
});

test('with no daemon running, the server starts one (then this test stops it by pid)', async (t) => {
  // A second daemon of its own: another socket and state folder.
  const env = { ...process.env, TORCHEXAM_SOCKET: join(process.env.TORCHEXAM_TEST_ROOT, 'run2', 'daemon.sock'),
                TORCHEXAM_STATE_DIR: join(process.env.TORCHEXAM_TEST_ROOT, 'state2') };
  const daemonPid = () => JSON.parse(execFileSync(torchexam, ['daemon', 'status', '--json'], { env, encoding: 'utf8' })).pid;
  assert.throws(() => daemonPid(), 'no daemon on that socket yet');
  const folder = join(process.env.TORCHEXAM_TEST_ROOT, 'autostart');
  writeText(join(folder, 'x.cpp'), '');
  const client = new TestClient(folder, env);
  let pid;
  t.after(() => {
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    execFileSync('timeout', ['20', 'tail', `--pid=${pid}`, '-f', '/dev/null']);  // until it has exited
  });
  await client.initialize(folder, {});
  pid = daemonPid();
  await client.initialized();
  // Reached: the daemon answers that it has no session, rather than being unreachable.
  const shown = await client.waitFor('the message', (e) => e.method === 'window/showMessage');
  assert.match(shown.params.message, /^TorchExam: no exam session for /);
  assert.equal(await client.shutdown(), 0);
});

test('time warnings: a message and torchexam/timer for a client that shows it', async () => {
  // A 72-second practice session: 12 s after its start comes the 1-minute
  // warning (the 10-minute one goes at the first tick, before this client is up).
  const exam = startExam('short', ['--duration', '72']);
  const client = new TestClient(exam.workspace);
  await client.initialize(exam.workspace, { experimental: { torchexamTimer: true } });
  await client.initialized();
  const first = await client.waitFor('the first timer note', (e) => e.method === 'torchexam/timer');
  assert.equal(first.params.session, exam.session);
  assert.ok(first.params.remaining_s > 60, JSON.stringify(first.params));
  const one = await client.waitFor('the 1-minute warning', (e) => e.method === 'window/showMessage' &&
    e.params.message.startsWith('TorchExam: 1 minute left'), 40000);
  assert.equal(one.params.message, 'TorchExam: 1 minute left in the exam');
  assert.equal(one.params.type, 2);
  const note = client.of('torchexam/timer').find((e) => e.params.warning_minutes === 1);
  assert.ok(note && note.params.remaining_s <= 60, JSON.stringify(client.of('torchexam/timer')));
  assert.equal(await client.shutdown(), 0);
});
