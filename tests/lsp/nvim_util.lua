-- nvim_util.lua — what the Neovim clients of `torchexam lsp` share
-- (nvim_client.lua, nvim_reconnect.lua): a log of what the test saw, checks
-- that fail with a message, waits on a condition with a deadline (never a
-- sleep), handlers that record what the language server sends before
-- Neovim's own act on it, starting the client on Neovim 0.7 and later, and
-- running the test to an exit status (0 on success, 1 with what was sent).
-- Loaded with dofile(); returns the table M.
local M = { events = {}, log = {} }  -- events: {method = ..., params = ...}, in arrival order

function M.say(...) table.insert(M.log, string.format(...)) end
function M.check(cond, ...)
  if not cond then error(string.format(...), 2) end
end
function M.wait(what, seconds, cond)
  M.check(vim.wait(seconds * 1000, cond, 50), 'timed out after %ds waiting for %s', seconds, what)
end
function M.find(method, pred)
  for _, e in ipairs(M.events) do
    if e.method == method and (pred == nil or pred(e.params)) then return e end
  end
end

-- Handlers that record messages, then let Neovim's own handlers act on them
-- (window/showMessage is only recorded: no prompt in headless mode).
-- Waits (up to 300 s) for the score message of `task`, checks that it is an
-- ok grading's, and returns the notification.
function M.wait_score(task)
  local done
  M.wait('the score message', 300, function()
    done = M.find('window/showMessage', function(p) return p.message:match('^' .. task .. ': ') end)
    return done ~= nil
  end)
  M.check(done.params.message:match('^' .. task .. ': %d/5 %(ok%) — accuracy '), 'message: %s', done.params.message)
  return done
end

function M.recording_handlers()
  local handlers = {}
  for _, method in ipairs({ 'window/showMessage', '$/progress', 'window/workDoneProgress/create',
                            'textDocument/publishDiagnostics', 'window/logMessage' }) do
    local default = vim.lsp.handlers[method]
    handlers[method] = function(err, result, ctx, config)
      table.insert(M.events, { method = method, params = result })
      if method == 'window/showMessage' then return vim.NIL end
      return default(err, result, ctx, config)
    end
  end
  return handlers
end

-- Starts the client on `bufnr` (vim.lsp.start on 0.8+, start_client on 0.7)
-- and waits for initialize; returns its id and the client.
function M.start(config, bufnr)
  local client_id
  if vim.fn.has('nvim-0.8') == 1 then
    client_id = vim.lsp.start(config)
  else
    client_id = vim.lsp.start_client(config)
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  M.check(client_id, 'the client did not start')
  local client
  M.wait('initialize', 20, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end)
  return client_id, client
end

-- Runs `main`, prints the log, and quits: 0, or 1 with the error and every
-- message the language server sent.
function M.run(name, main)
  local ok, err = xpcall(main, debug.traceback)
  for _, line in ipairs(M.log) do io.stdout:write(line .. '\n') end
  if not ok then
    io.stderr:write('FAILED: ' .. tostring(err) .. '\n--- what the language server sent ---\n')
    for _, e in ipairs(M.events) do io.stderr:write(e.method .. ' ' .. vim.fn.json_encode(e.params) .. '\n') end
    vim.cmd('cquit 1')
  end
  io.stdout:write(name .. ': all checks passed\n')
  vim.cmd('qall!')
end

return M
