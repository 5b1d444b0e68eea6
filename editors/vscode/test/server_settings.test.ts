import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinArgs, lspArgs } from '../src/server_settings';

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

test('Start exam against a server runs join into the workspace folder; without one, none', () => {
  assert.deepEqual(joinArgs({ server: 'exam.example.org:7443', caFile: 'ca.crt', tokenFile: '/home/ana/ana.token' }, '/home/ana/exam'),
                   ['join', 'exam.example.org:7443', '--ca-file', '/home/ana/exam/ca.crt', '--token-file', '/home/ana/ana.token',
                    '/home/ana/exam', '--json']);
  assert.equal(joinArgs({}, '/home/ana/exam'), undefined);
  assert.throws(() => joinArgs({ server: 'h:7443', caFile: '/ca' }, '/w'), /set torchexam.tokenFile too/);
});
