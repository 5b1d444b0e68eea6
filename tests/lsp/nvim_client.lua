-- Neovim as the language client (0.7.2 from Debian: vim.lsp.start_client;
-- vim.lsp.start on 0.8+), headless, against a private daemon grading the
-- tiny exam (under with_daemon.sh), or against a proctored server on
-- loopback (under with_server.sh, which sets TORCHEXAM_SERVER: the
-- workspace is laid out with `torchexam join`, and the language server,
-- started outside it with the workspace as its root folder, finds the
-- server in the root's config after initialize). Either way:
--   open a task's solution, save a syntax error, see the diagnostic at its
--   line, fix it, run the "Submit & grade" lens, see progress and the score,
--   then run the "Open report" lens: the report file is written and the
--   server asks the editor to show it (window/showDocument).
-- Waits are vim.wait on a condition with a deadline; exits 0 on success.
local torchexam = assert(os.getenv('TORCHEXAM_BIN'))
local root = assert(os.getenv('TORCHEXAM_TEST_ROOT'))
local tiny = assert(os.getenv('TORCHEXAM_SOURCE_DIR')) .. '/tests/environments/tiny'
local t = dofile(debug.getinfo(1, 'S').source:sub(2):match('(.*/)') .. 'nvim_util.lua')
local say, check, wait, find, events = t.say, t.check, t.wait, t.find, t.events

local function main()
  local server = os.getenv('TORCHEXAM_SERVER')
  local out
  if server then
    out = vim.fn.system({ torchexam, 'join', server, '--ca-file', assert(os.getenv('TORCHEXAM_CA_FILE')),
                          '--token-file', assert(os.getenv('TORCHEXAM_TOKEN_FILE')), root .. '/nvim', '--json' })
  else
    out = vim.fn.system({ torchexam, 'start', tiny, '--workspace', root .. '/nvim', '--json' })
  end
  check(vim.v.shell_error == 0, 'torchexam %s failed: %s', server and 'join' or 'start', out)
  local exam = vim.fn.json_decode(out)
  local solution = exam.workspace .. '/fashion_mnist/solution.cpp'
  local starter = vim.fn.readfile(solution)

  local handlers = t.recording_handlers()
  -- "Open report" asks the editor to show a file: record the request and say it was shown.
  handlers['window/showDocument'] = function(_, result)
    table.insert(events, { method = 'window/showDocument', params = result })
    return { success = true }
  end
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.window = capabilities.window or {}
  capabilities.window.showDocument = { support = true }
  local exit_code
  -- Against the server the language server runs in a folder outside the
  -- workspace: only the root folder the editor sends names the server.
  local config = {
    name = 'torchexam', cmd = { torchexam, 'lsp' }, cmd_cwd = server and root or exam.workspace,
    root_dir = exam.workspace,
    handlers = handlers,
    capabilities = capabilities, on_exit = function(code) exit_code = code end,
  }
  vim.cmd('edit ' .. vim.fn.fnameescape(solution))
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id = t.start(config, bufnr)
  say('server %s attached, root %s%s', torchexam, exam.workspace,
      server and (', proctored server ' .. server .. ' found from the root, started in ' .. root) or '')

  -- 1. Save a syntax error on line 12.
  local broken = vim.deepcopy(starter)
  table.insert(broken, 12, 'int broken_here = ;')
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, broken)
  vim.cmd('write')
  local errors
  wait('the syntax error diagnostic', 120, function()
    errors = vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR })
    return #errors > 0
  end)
  check(errors[1].lnum == 11, 'diagnostic at line %d (0-based), expected 11: %s', errors[1].lnum, errors[1].message)
  say('syntax error shown at line %d: %s', errors[1].lnum + 1, errors[1].message)

  -- 2. Fix it: the diagnostics clear.
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, starter)
  vim.cmd('write')
  wait('the diagnostics to clear', 120, function() return #vim.diagnostic.get(bufnr) == 0 end)
  say('fixed: no diagnostics')

  -- 3. The lenses, and running "Submit & grade" the way a user does (:lua vim.lsp.codelens.run()).
  vim.lsp.codelens.refresh()
  local lenses
  wait('the code lenses', 20, function()
    lenses = vim.lsp.codelens.get(bufnr)
    return lenses ~= nil and #lenses == 3
  end)
  local titles = {}
  for _, l in ipairs(lenses) do titles[#titles + 1] = l.command.title end
  check(vim.tbl_contains(titles, 'Submit & grade'), 'lenses: %s', table.concat(titles, ' | '))
  check(vim.tbl_contains(titles, 'best 0/5 · not submitted yet'), 'lenses: %s', table.concat(titles, ' | '))
  check(vim.tbl_contains(titles, 'Open report'), 'lenses: %s', table.concat(titles, ' | '))
  local pick = 'Submit & grade'
  vim.ui.select = function(items, opts, on_choice)  -- the user picks the lens named `pick`
    for i, item in ipairs(items) do
      if opts.format_item(item) == pick then return on_choice(item, i) end
    end
    on_choice(nil, nil)
  end
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.lsp.codelens.run()

  -- 4. Progress while grading, then the score.
  local done = t.wait_score('fashion_mnist')
  say('score message: %s', done.params.message)
  local created = find('window/workDoneProgress/create')
  check(created, 'no work-done progress token was created')
  local token = created.params.token
  local kinds, training = {}, false
  for _, e in ipairs(events) do
    if e.method == '$/progress' and e.params.token == token then
      kinds[#kinds + 1] = e.params.value.kind
      training = training or (e.params.value.message or ''):match('^training: epoch') ~= nil
    end
  end
  check(kinds[1] == 'begin' and kinds[#kinds] == 'end', 'progress kinds: %s', table.concat(kinds, ','))
  check(training, 'no training progress was reported')
  say('progress: %d notes (%s ... %s), training reported', #kinds, kinds[1], kinds[#kinds])

  -- 5. The lens shows the new best after the server's refresh.
  vim.lsp.codelens.refresh()
  wait('the updated lens', 20, function()
    for _, l in ipairs(vim.lsp.codelens.get(bufnr) or {}) do
      if l.command.title:match('^best %d/5 · last: ok$') then return true end
    end
    return false
  end)

  -- 6. "Open report": the report is written and shown.
  pick = 'Open report'
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.lsp.codelens.run()
  local shown
  wait('the report to be shown', 60, function()
    shown = find('window/showDocument')
    return shown ~= nil
  end)
  local file = vim.uri_to_fname(shown.params.uri)
  check(file == exam.workspace .. '/torchexam-report-fashion_mnist.html', 'showDocument of %s', file)
  check(shown.params.external == true, 'external: %s (the client did not say it shows HTML)', tostring(shown.params.external))
  local html = table.concat(vim.fn.readfile(file), '\n')
  check(html:find('<svg', 1, true), 'the report has no chart')
  check(html:find('Score on the ladder', 1, true), 'the report has no ladder')
  check(not html:find('http://', 1, true) and not html:find('https://', 1, true), 'the report refers to the network')
  check(not html:find('<script', 1, true), 'the report has a script')
  say('report shown: %s (%d bytes)', file, #html)

  vim.lsp.stop_client(client_id)
  wait('the server to exit', 20, function() return exit_code ~= nil end)
  check(exit_code == 0, 'the server exited with %s', tostring(exit_code))
end

t.run('nvim client', main)
