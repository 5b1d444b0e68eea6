// The report panel with a stubbed `vscode`: a report file shown with scripts
// off, the live loss curve drawn from progress notes (escaped, no script,
// nothing loaded), and the "Open report" command.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { doc, panels, recorded, reset, vscode } from './vscode_stub';
import { escapeHtml, isReportUri, liveLossHtml, LiveLoss, ReportPanel } from '../src/report_panel';
import { Controller, ExamServer } from '../src/controller';

beforeEach(() => reset());

const train = (submission: number, loss: number | null, kind: 'batch' | 'epoch' = 'batch') => ({
  session: 's', submission, task: 'fashion_mnist', stage: 'train', kind, epoch: 1, epochs: 3, loss,
  elapsed_s: 12, budget_left_s: 588,
});

test('a report file is shown in one panel, scripts off', async () => {
  const files: Record<string, string> = { '/ws/torchexam-report.html': '<!DOCTYPE html><p>report</p>' };
  const p = new ReportPanel(async (path) => files[path]);
  await p.showReport('/ws/torchexam-report.html');
  await p.showReport('/ws/torchexam-report.html');
  assert.equal(panels.length, 1, 'the same panel is reused');
  assert.equal(panels[0].options.enableScripts, false);
  assert.equal(panels[0].webview.html, files['/ws/torchexam-report.html']);
  assert.equal(panels[0].revealed, 1);
});

test('the live loss curve: drawn from batch notes, at most once a second, escaped, nothing loaded', () => {
  let now = 0;
  const p = new ReportPanel(async () => '', () => now);
  p.progress({ session: 's', submission: 7, task: 'fashion_mnist', stage: 'build' });
  assert.equal(panels.length, 0, 'nothing to draw before training');
  p.progress(train(7, 2.5));
  assert.equal(panels.length, 1);
  now += 200;
  p.progress(train(7, 1.5));  // within the second: not drawn yet
  assert.doesNotMatch(panels[0].webview.html, /2 reported steps/);
  now += 1000;
  p.progress(train(7, null));  // a non-finite loss is not a point
  p.progress(train(7, 0.9, 'epoch'));
  now += 1000;
  p.progress(train(7, 0.75));
  const html = panels[0].webview.html;
  assert.match(html, /3 reported steps/);
  assert.match(html, /<polyline class="loss" points="[0-9., ]+"\/>/);
  assert.match(html, /epoch 1\/3, 12 s of a 600 s budget/);
  assert.doesNotMatch(html, /<script|https?:\/\//);
  assert.match(html, /Content-Security-Policy/);
  p.progress({ session: 's', submission: 7, task: 'fashion_mnist', stage: 'evaluate' });  // training ended: drawn at once
  assert.match(panels[0].webview.html, /<p>evaluate · 3 reported steps/);
});

test('strings from the daemon are escaped in the live page', () => {
  const live = new LiveLoss(1, '<img src=x onerror="alert(1)">');
  const html = liveLossHtml(live);
  assert.doesNotMatch(html, /<img/);
  assert.match(html, /&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/);
  assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
});

test('report URIs are told apart from other documents', () => {
  assert.ok(isReportUri('file:///home/ana/exam/torchexam-report.html'));
  assert.ok(isReportUri('file:///home/ana/exam/torchexam-report-fashion_mnist.html'));
  assert.ok(!isReportUri('file:///home/ana/exam/.torchexam/history-fashion_mnist.md'));
  assert.ok(!isReportUri('file:///home/ana/exam/fashion_mnist/solution.cpp'));
});

test('"Open report" asks the server for the open task\'s report, else the session\'s', async () => {
  const calls: { command: string; args: unknown[] }[] = [];
  const server: ExamServer = {
    executeCommand: async (command, args) => { calls.push({ command, args }); return { file: '/ws/r.html' }; },
    onTimer: () => {},
  };
  const c = new Controller(server, { start: async () => { throw new Error('not expected'); } }, () => 0);
  await recorded.commands.get('torchexam.openReport')!();
  vscode.window.activeTextEditor = { document: doc('/ws/fashion_mnist/solution.cpp') };
  await recorded.commands.get('torchexam.openReport')!();
  assert.deepEqual(calls, [
    { command: 'torchexam.report', args: [] },
    { command: 'torchexam.report', args: ['file:///ws/fashion_mnist/solution.cpp'] },
  ]);
  c.dispose();
});
