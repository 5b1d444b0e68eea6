-- Neovim against the proctored server on loopback (under with_server.sh)
-- while the server is killed with SIGKILL and started again on the same
-- port and state folder (server_control.sh). The language server, started
-- in the joined workspace, says it lost the connection, answers a request
-- meanwhile with an error naming the reconnect, reconnects and says so;
-- a save afterwards gets the server's diagnostics again and a submit is
-- graded. Killed again and its token revoked meanwhile, the language server
-- stops reconnecting at the refused login and says why. Waits are vim.wait on a condition with a deadline; exits 0 on
-- success.
local torchexam = assert(os.getenv('TORCHEXAM_BIN'))
local root = assert(os.getenv('TORCHEXAM_TEST_ROOT'))
local server = assert(os.getenv('TORCHEXAM_SERVER'))
local control = assert(os.getenv('TORCHEXAM_SERVER_CONTROL'))
local t = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'nvim_util.lua')
local say, check, wait, find = t.say, t.check, t.wait, t.find

local function shown(pattern)
  return find('window/showMessage', function(p) return p.message:find(pattern, 1, true) ~= nil end)
end

local function main()
  local out = vim.fn.system({ torchexam, 'join', server, '--ca-file', assert(os.getenv('TORCHEXAM_CA_FILE')),
                              '--token-file', assert(os.getenv('TORCHEXAM_TOKEN_FILE')), root .. '/nvim', '--json' })
  check(vim.v.shell_error == 0, 'torchexam join failed: %s', out)
  local exam = vim.fn.json_decode(out)
  local solution = exam.workspace .. '/fashion_mnist/solution.cpp'
  local starter = vim.fn.readfile(solution)

  local exit_code
  local config = {
    name = 'torchexam', cmd = { torchexam, 'lsp' }, cmd_cwd = exam.workspace, root_dir = exam.workspace,
    handlers = t.recording_handlers(), on_exit = function(code) exit_code = code end,
  }
  vim.cmd('edit ' .. vim.fn.fnameescape(solution))
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id, client = t.start(config, bufnr)
  say('attached to %s through the workspace %s', server, exam.workspace)

  local function save_error_at(line)  -- 1-based
    local broken = vim.deepcopy(starter)
    table.insert(broken, line, 'int broken_here = ;')
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, broken)
    vim.cmd('write')
    wait('the syntax error diagnostic at line ' .. line, 120, function()
      for _, d in ipairs(vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR })) do
        if d.lnum == line - 1 then return true end
      end
      return false
    end)
  end

  -- 1. Connected: a save gets the server's check.
  save_error_at(12)
  say('before the kill: the syntax error shown at line 12')

  -- 2. The server is killed: the editor is told, and a request meanwhile fails saying why.
  vim.fn.system({ control, 'kill9' })
  check(vim.v.shell_error == 0, 'server_control.sh kill9 failed')
  wait('the lost-connection message', 30, function() return shown('lost the connection to the server ' .. server) end)
  local lost = shown('lost the connection to the server ' .. server).params.message
  check(lost:find('reconnecting...', 1, true), 'message: %s', lost)
  say('told: %s', lost)
  local answer, err = client.request_sync('workspace/executeCommand', { command = 'torchexam.status' }, 10000, bufnr)
  check(answer and answer.err, 'a request while disconnected did not fail: %s %s', vim.inspect(answer), tostring(err))
  check(answer.err.message:find('reconnecting', 1, true), 'the error does not say it is reconnecting: %s',
        answer.err.message)
  say('a request meanwhile fails with: %s', answer.err.message)

  -- 3. The server comes back on the same port and state: the language server reconnects.
  vim.fn.system({ control, 'start' })
  check(vim.v.shell_error == 0, 'server_control.sh start failed')
  wait('the reconnected message', 60, function() return shown('reconnected to the server ' .. server) end)
  say('told: %s', shown('reconnected to the server ' .. server).params.message)

  -- 4. A save afterwards still gets the server's diagnostics; the fix clears them.
  save_error_at(5)
  say('after the reconnect: the syntax error shown at line 5')
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, starter)
  vim.cmd('write')
  wait('the diagnostics to clear', 120, function() return #vim.diagnostic.get(bufnr) == 0 end)
  say('fixed: no diagnostics')

  -- 5. A submit still works, through the pings' keep-alive while it trains.
  local submitted
  client.request('workspace/executeCommand',
                 { command = 'torchexam.submit', arguments = { vim.uri_from_fname(solution) } },
                 function(e, result) submitted = { err = e, result = result } end, bufnr)
  wait('the submit answer', 60, function() return submitted ~= nil end)
  check(submitted.err == nil, 'submit failed: %s', vim.inspect(submitted.err))
  local done = t.wait_score('fashion_mnist')
  say('submission %s graded: %s', tostring(submitted.result.submission), done.params.message)

  -- 6. A token revoked while the server is away ends the reconnecting at once, with the server's words.
  vim.fn.system({ control, 'kill9' })
  check(vim.v.shell_error == 0, 'server_control.sh kill9 failed')
  wait('the second lost-connection message', 30, function()
    local n = 0
    for _, e in ipairs(t.events) do
      if e.method == 'window/showMessage' and e.params.message:find('lost the connection', 1, true) then n = n + 1 end
    end
    return n == 2
  end)
  out = vim.fn.system({ assert(os.getenv('TORCHEXAM_SERVER_DAEMON')), '--state-dir', root .. '/server-state',
                        '--revoke', 'ana' })
  check(vim.v.shell_error == 0, 'torchexamd --revoke ana failed: %s', out)
  vim.fn.system({ control, 'start' })
  check(vim.v.shell_error == 0, 'server_control.sh start failed')
  wait('the refused login', 60, function() return shown('refused the login') end)
  say('told: %s', shown('refused the login').params.message)
  answer = client.request_sync('workspace/executeCommand', { command = 'torchexam.status' }, 10000, bufnr)
  check(answer and answer.err and answer.err.message:find('refused the login', 1, true),
        'a request after the refused login: %s', vim.inspect(answer))

  vim.lsp.stop_client(client_id)
  wait('the server to exit', 20, function() return exit_code ~= nil end)
  check(exit_code == 0, 'the language server exited with %s', tostring(exit_code))
end

t.run('nvim reconnect', main)
