// A stand-in for the `vscode` module (VS Code itself cannot be downloaded
// here): just the API the controller uses, recording what it is asked to do.
// Installed with a require hook before the code under test loads.
import Module = require('node:module');

export interface Doc {
  uri: { fsPath: string; toString(): string };
  isDirty: boolean;
  save(): Promise<boolean>;
  saves: number;
}

export function doc(path: string, dirty = false, saveOk = true): Doc {
  const d: Doc = {
    uri: { fsPath: path, toString: () => `file://${path}` },
    isDirty: dirty,
    saves: 0,
    save: async () => { d.saves++; if (saveOk) d.isDirty = false; return saveOk; },
  };
  return d;
}

export const recorded = {
  info: [] as string[],
  warnings: [] as string[],
  errors: [] as string[],
  commands: new Map<string, (...args: any[]) => any>(),
};

export const answers = {
  quickPick: undefined as ((items: any[]) => any) | undefined,
  warning: undefined as string | undefined,
  openDialog: undefined as { fsPath: string }[] | undefined,
};

// The webview panels the code under test made, newest last.
export interface FakePanel {
  viewType: string; title: string; options: any; webview: { html: string }; revealed: number; disposed: boolean;
  reveal(): void; onDidDispose(f: () => void): void; dispose(): void;
}
export const panels: FakePanel[] = [];

export const statusItem = { text: '', visible: false, backgroundColor: undefined as any, command: '', tooltip: '',
  show() { this.visible = true; }, hide() { this.visible = false; }, dispose() {} };

const disposable = { dispose() {} };

export const vscode = {
  StatusBarAlignment: { Left: 1, Right: 2 },
  ViewColumn: { Active: -1, Beside: -2 },
  ThemeColor: class { constructor(public id: string) {} },
  window: {
    activeTextEditor: undefined as { document: Doc } | undefined,
    createStatusBarItem: () => statusItem,
    onDidChangeActiveTextEditor: () => disposable,
    showInformationMessage: async (m: string) => { recorded.info.push(m); return undefined; },
    showWarningMessage: async (m: string) => { recorded.warnings.push(m); return answers.warning; },
    showErrorMessage: async (m: string) => { recorded.errors.push(m); return undefined; },
    showQuickPick: async (items: any[]) => answers.quickPick?.(items),
    showOpenDialog: async () => answers.openDialog,
    createWebviewPanel: (viewType: string, title: string, _show: any, options: any) => {
      let onDispose = () => {};
      const p: FakePanel = {
        viewType, title, options, webview: { html: '' }, revealed: 0, disposed: false,
        reveal() { p.revealed++; },
        onDidDispose(f) { onDispose = f; },
        dispose() { p.disposed = true; onDispose(); },
      };
      panels.push(p);
      return p;
    },
  },
  commands: {
    registerCommand: (name: string, f: (...args: any[]) => any) => { recorded.commands.set(name, f); return disposable; },
  },
  workspace: { workspaceFolders: undefined as { uri: { fsPath: string } }[] | undefined },
};

export function reset(): void {
  recorded.info.length = recorded.warnings.length = recorded.errors.length = 0;
  recorded.commands.clear();
  panels.length = 0;
  answers.quickPick = undefined;
  answers.warning = undefined;
  answers.openDialog = undefined;
  vscode.window.activeTextEditor = undefined;
  vscode.workspace.workspaceFolders = undefined;
  statusItem.text = '';
  statusItem.visible = false;
}

const M = Module as any;
const resolve = M._resolveFilename;
M._resolveFilename = function (request: string, ...rest: any[]) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
M._cache['vscode'] = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };
