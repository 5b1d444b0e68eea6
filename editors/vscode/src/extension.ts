// The TorchExam extension: starts `torchexam lsp` with vscode-languageclient
// (diagnostics, code lenses, progress and messages come from the server) and
// adds what LSP cannot show: a countdown and the task's best score in the
// status bar, four commands, and the report in a webview panel with the live
// loss curve while a grading trains (report_panel.ts). The behaviour lives in
// controller.ts and report_panel.ts.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, StaticFeature } from 'vscode-languageclient/node';
import { Controller, Launcher } from './controller';
import { isReportUri, ProgressNote, ReportPanel } from './report_panel';
import { joinArgs, lspArgs, ServerSettings } from './server_settings';
import { TimerNote } from './status';

let client: LanguageClient | undefined;
let controller: Controller | undefined;

// Tells the server we display torchexam/timer, and show HTML reports and
// torchexam/progress ourselves (experimental capabilities).
class TimerFeature implements StaticFeature {
  fillClientCapabilities(capabilities: any): void {
    capabilities.experimental = { ...(capabilities.experimental ?? {}), torchexamTimer: true, torchexamReportView: true };
  }
  initialize(): void {}
  getState() { return { kind: 'static' as const }; }
  clear(): void {}
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const settings = vscode.workspace.getConfiguration('torchexam');
  const torchexam = settings.get<string>('path', 'torchexam');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const server: ServerSettings = { server: settings.get<string>('server'), caFile: settings.get<string>('caFile'),
                                   tokenFile: settings.get<string>('tokenFile') };
  let args: string[];
  try {
    args = lspArgs(server, folder);
  } catch (e: any) {
    void vscode.window.showErrorMessage(`TorchExam: ${e.message}`);
    return;
  }
  const serverOptions: ServerOptions = { command: torchexam, args, options: folder ? { cwd: folder } : undefined };
  const panel = new ReportPanel((path) => readFile(path, 'utf8'));
  context.subscriptions.push(panel);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'cpp' }],
    middleware: {
      window: {
        // A report goes to the panel; any other document as the client would show it.
        showDocument: async (params, next) => {
          if (!isReportUri(params.uri)) {
            // The client's own handling; an error it answers with is a document not shown.
            const shown = await next(params, new vscode.CancellationTokenSource().token);
            return 'success' in shown ? shown : { success: false };
          }
          try {
            await panel.showReport(vscode.Uri.parse(params.uri).fsPath);
            return { success: true };
          } catch (e: any) {
            void vscode.window.showErrorMessage(`TorchExam: cannot show the report: ${e?.message ?? e}`);
            return { success: false };
          }
        },
      },
    },
  };
  client = new LanguageClient('torchexam', 'TorchExam', serverOptions, clientOptions);
  client.registerFeature(new TimerFeature());
  const c = client;
  const run = (cliArgs: string[]) => new Promise<any>((resolve, reject) => {
    execFile(torchexam, cliArgs, (error, stdout, stderr) => {
      if (error) return reject(new Error(stderr.trim().replace(/^torchexam( join)?: /, '') || error.message));
      resolve(JSON.parse(stdout));
    });
  });
  const launcher: Launcher = {
    start: (environment, workspace) => run(['start', environment, '--workspace', workspace, '--json']),
  };
  if (args.length > 1)  // a proctored server: Start exam joins it
    launcher.join = (workspace) => run(joinArgs(server, workspace)!);
  controller = new Controller({
    executeCommand: (command, args) => c.sendRequest('workspace/executeCommand', { command, arguments: args }),
    onTimer: (handler) => { c.onNotification('torchexam/timer', (note: TimerNote) => handler(note)); },
  }, launcher);
  context.subscriptions.push(controller);
  c.onNotification('torchexam/progress', (note: ProgressNote) => panel.progress(note));
  await client.start();
  controller.startTicking();
  await controller.refreshStatus();
}

export async function deactivate(): Promise<void> {
  controller?.dispose();
  await client?.stop();
}
