// A language client for the tests, built on vscode-languageserver-protocol
// (VS Code's own JSON-RPC implementation): starts `torchexam lsp`, records
// every message the server sends, answers its requests, and lets a test wait
// for a recorded message that matches (an event, never a sleep).
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node.js';
import {
  createProtocolConnection, InitializeRequest, InitializedNotification, ShutdownRequest, ExitNotification,
  PublishDiagnosticsNotification, ShowMessageNotification, LogMessageNotification, WorkDoneProgressCreateRequest,
  CodeLensRefreshRequest, ShowDocumentRequest,
} from 'vscode-languageserver-protocol/node';

export const torchexam = process.env.TORCHEXAM_BIN;
export const testRoot = process.env.TORCHEXAM_TEST_ROOT;
export const sourceDir = process.env.TORCHEXAM_SOURCE_DIR;
export const tinyEnv = join(sourceDir, 'tests/environments/tiny');
if (!torchexam || !testRoot || !sourceDir) throw new Error('run under tests/lsp/with_daemon.sh with TORCHEXAM_SOURCE_DIR set');

export const uri = (path) => pathToFileURL(path).href;

// `torchexam start` of the tiny exam in a new workspace; returns its summary.
export function startExam(name, extra = []) {
  const workspace = join(testRoot, name);
  const out = execFileSync(torchexam, ['start', tinyEnv, '--workspace', workspace, '--json', ...extra], { encoding: 'utf8' });
  return JSON.parse(out);
}

// A file with a syntax error on line 12 (1-based): `int x = ;`.
export function brokenSource(starter) {
  const lines = starter.split('\n');
  lines.splice(11, 0, 'int broken_here = ;');
  return lines.join('\n');
}

const running = new Set();
// Kills every server a failed test left running, so the run ends.
export function killLeftovers() { for (const proc of running) proc.kill('SIGKILL'); }

export class TestClient {
  constructor(root, env = process.env) {
    this.events = [];  // {kind: 'notification'|'request', method, params}
    this.waiters = [];
    this.proc = spawn(torchexam, ['lsp'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    running.add(this.proc);
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => { running.delete(this.proc); resolve(code); }));
    this.connection = createProtocolConnection(new rpc.StreamMessageReader(this.proc.stdout),
                                               new rpc.StreamMessageWriter(this.proc.stdin));
    const record = (kind, method) => (params) => this.push({ kind, method, params });
    for (const type of [PublishDiagnosticsNotification.type, ShowMessageNotification.type, LogMessageNotification.type])
      this.connection.onNotification(type, record('notification', type.method));
    this.connection.onNotification('$/progress', record('notification', '$/progress'));
    this.connection.onNotification('torchexam/timer', record('notification', 'torchexam/timer'));
    this.connection.onNotification((method, params) => this.push({ kind: 'notification', method, params }));
    for (const type of [WorkDoneProgressCreateRequest.type, CodeLensRefreshRequest.type])
      this.connection.onRequest(type, (params) => { this.push({ kind: 'request', method: type.method, params }); return null; });
    this.connection.onRequest(ShowDocumentRequest.type, (params) => {
      this.push({ kind: 'request', method: ShowDocumentRequest.method, params });
      return { success: true };
    });
    this.connection.listen();
  }

  push(event) {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => !(w.match(event) && (w.resolve(event), true)));
  }

  of(method) { return this.events.filter((e) => e.method === method); }

  // The first recorded event (past or future) for which match(event) holds.
  waitFor(what, match, timeoutMs = 240000) {
    const found = this.events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got:\n` +
        this.events.map((e) => `${e.method} ${JSON.stringify(e.params)}`).join('\n') + `\nstderr: ${this.stderr}`)), timeoutMs);
      this.waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  initialize(root, capabilities) {
    return this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid, rootUri: uri(root), workspaceFolders: [{ uri: uri(root), name: 'exam' }], capabilities,
    });
  }

  initialized() { return this.connection.sendNotification(InitializedNotification.type, {}); }

  request(method, params) { return this.connection.sendRequest(method, params); }

  async shutdown() {
    await this.connection.sendRequest(ShutdownRequest.type);
    await this.connection.sendNotification(ExitNotification.type);
    const code = await this.exited;
    this.connection.dispose();
    return code;
  }
}

export function readText(path) { return readFileSync(path, 'utf8'); }
export function writeText(path, text) { mkdirSync(join(path, '..'), { recursive: true }); writeFileSync(path, text); }
