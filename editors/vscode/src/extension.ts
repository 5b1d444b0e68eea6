// The TorchExam extension: starts `torchexam lsp` with vscode-languageclient
// (diagnostics, code lenses, progress and messages come from the server) and
// adds what LSP cannot show: a countdown and the task's best score in the
// status bar, and three commands. The behaviour lives in controller.ts.
import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, StaticFeature } from 'vscode-languageclient/node';
import { Controller, Launcher } from './controller';
import { TimerNote } from './status';

let client: LanguageClient | undefined;
let controller: Controller | undefined;

// Tells the server we display torchexam/timer (an experimental capability).
class TimerFeature implements StaticFeature {
  fillClientCapabilities(capabilities: any): void {
    capabilities.experimental = { ...(capabilities.experimental ?? {}), torchexamTimer: true };
  }
  initialize(): void {}
  getState() { return { kind: 'static' as const }; }
  clear(): void {}
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const torchexam = vscode.workspace.getConfiguration('torchexam').get<string>('path', 'torchexam');
  const serverOptions: ServerOptions = { command: torchexam, args: ['lsp'] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'cpp' }],
  };
  client = new LanguageClient('torchexam', 'TorchExam', serverOptions, clientOptions);
  client.registerFeature(new TimerFeature());
  const c = client;
  const launcher: Launcher = {
    start: (environment, workspace) => new Promise((resolve, reject) => {
      execFile(torchexam, ['start', environment, '--workspace', workspace, '--json'], (error, stdout, stderr) => {
        if (error) return reject(new Error(stderr.trim().replace(/^torchexam: /, '') || error.message));
        resolve(JSON.parse(stdout));
      });
    }),
  };
  controller = new Controller({
    executeCommand: (command, args) => c.sendRequest('workspace/executeCommand', { command, arguments: args }),
    onTimer: (handler) => { c.onNotification('torchexam/timer', (note: TimerNote) => handler(note)); },
  }, launcher);
  context.subscriptions.push(controller);
  await client.start();
  controller.startTicking();
  await controller.refreshStatus();
}

export async function deactivate(): Promise<void> {
  controller?.dispose();
  await client?.stop();
}
