import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lspArgs } from '../src/server_settings';

test('without a server the language server talks to the local daemon', () => {
  assert.deepEqual(lspArgs({}), ['lsp']);
  assert.deepEqual(lspArgs({ server: '  ', caFile: '/ca.crt' }), ['lsp']);
});

test('a server with its CA and token files is passed to torchexam lsp; relative files are the workspace\'s', () => {
  assert.deepEqual(lspArgs({ server: 'exam.example.org:7443', caFile: '/etc/ca.crt', tokenFile: 'ana.token' }, '/home/ana/exam'),
                   ['--server', 'exam.example.org:7443', '--ca-file', '/etc/ca.crt', '--token-file', '/home/ana/exam/ana.token', 'lsp']);
  assert.deepEqual(lspArgs({ server: '[::1]:7443', caFile: '/ca', tokenFile: '/t' }),
                   ['--server', '[::1]:7443', '--ca-file', '/ca', '--token-file', '/t', 'lsp']);
});

test('a bad address or a missing file setting is refused, naming the setting', () => {
  assert.throws(() => lspArgs({ server: 'exam.example.org', caFile: '/ca', tokenFile: '/t' }), /torchexam.server must be HOST:PORT/);
  assert.throws(() => lspArgs({ server: 'h:7443', tokenFile: '/t' }), /set torchexam.caFile too/);
  assert.throws(() => lspArgs({ server: 'h:7443', caFile: '/ca' }), /set torchexam.tokenFile too/);
});
