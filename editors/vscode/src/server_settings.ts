// How the extension starts `torchexam lsp`: against the local daemon, or,
// when the `torchexam.server` setting names a proctored server
// (docs/server.md), against it over TLS with the CA file and the token file
// from the settings. The token itself is never a setting: it stays in its
// file (chmod 600), which torchexam reads.
import * as path from 'node:path';

export interface ServerSettings {
  server?: string;     // HOST:PORT; empty: the local daemon (or a joined workspace's own config)
  caFile?: string;     // the CA certificate the examiner gave
  tokenFile?: string;  // the file holding the candidate's token
}

// The server and its two files from the settings, relative files taken from
// `workspaceFolder`; undefined without a server. Throws an Error that says
// which setting is missing or wrong.
function serverOf(s: ServerSettings, workspaceFolder?: string): { server: string; ca: string; token: string } | undefined {
  const server = (s.server ?? '').trim();
  if (!server) return undefined;
  if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):[0-9]{1,5}$/.test(server))
    throw new Error(`torchexam.server must be HOST:PORT (e.g. exam.example.org:7443), not '${server}'`);
  const file = (value: string | undefined, setting: string, what: string): string => {
    const v = (value ?? '').trim();
    if (!v) throw new Error(`torchexam.server is set: set ${setting} too (${what})`);
    return path.isAbsolute(v) || !workspaceFolder ? v : path.join(workspaceFolder, v);
  };
  return {
    server,
    ca: file(s.caFile, 'torchexam.caFile', 'the CA certificate the examiner gave you'),
    token: file(s.tokenFile, 'torchexam.tokenFile', 'the file holding your token'),
  };
}

// `torchexam`'s arguments for the language server.
export function lspArgs(s: ServerSettings, workspaceFolder?: string): string[] {
  const r = serverOf(s, workspaceFolder);
  return r ? ['--server', r.server, '--ca-file', r.ca, '--token-file', r.token, 'lsp'] : ['lsp'];
}

// `torchexam`'s arguments for "Start exam" against the server: `join`, which
// starts or resumes the candidate's session and lays it out in `workspace`;
// undefined without a server (the exam then starts locally).
export function joinArgs(s: ServerSettings, workspace: string): string[] | undefined {
  const r = serverOf(s, workspace);
  return r ? ['join', r.server, '--ca-file', r.ca, '--token-file', r.token, workspace, '--json'] : undefined;
}
