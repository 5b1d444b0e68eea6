#include "lsp/lsp_types.hpp"

namespace torchexam::lsp {

InitializeParams initialize_params(const json::value& v) {
  const protocol::Fields f(v);
  InitializeParams p;
  if (auto uri = f.opt_string("rootUri")) p.root = path_of_uri(*uri);
  if (!p.root)
    for (const auto& folder : f.optional<std::vector<json::value>>("workspaceFolders"))
      if (auto uri = protocol::Fields(folder, "params.workspaceFolders[]").opt_string("uri"); uri && !p.root)
        p.root = path_of_uri(*uri);
  if (!p.root)
    if (auto path = f.opt_string("rootPath"); path && !path->empty()) p.root = std::filesystem::path(*path);
  const protocol::Fields caps = f.object("capabilities");
  auto& c = p.capabilities;
  c.work_done_progress = caps.object("window").optional<bool>("workDoneProgress");
  c.show_document = caps.object("window").object("showDocument").optional<bool>("support");
  c.code_lens_refresh = caps.object("workspace").object("codeLens").optional<bool>("refreshSupport");
  c.code_action_literals = caps.object("textDocument").object("codeAction").has("codeActionLiteralSupport");
  c.timer_notification = caps.object("experimental").optional<bool>("torchexamTimer");
  c.report_view = caps.object("experimental").optional<bool>("torchexamReportView");
  return p;
}

TextDocumentParams text_document_params(const json::value& v) {
  const protocol::Fields f(v);
  if (!f.has("textDocument")) throw protocol::RpcError(protocol::error_code::invalid_params, "params.textDocument: missing");
  return {f.object("textDocument").string("uri")};
}

ExecuteCommandParams execute_command_params(const json::value& v) {
  const protocol::Fields f(v);
  ExecuteCommandParams p{f.string("command"), {}};
  for (auto& a : f.optional<std::vector<json::value>>("arguments")) p.arguments.push_back(std::move(a));
  return p;
}

json::value to_json(const Position& p) { return {{"line", p.line}, {"character", p.character}}; }
json::value to_json(const Range& r) { return {{"start", to_json(r.start)}, {"end", to_json(r.end)}}; }

json::value to_json(const Diagnostic& d) {
  json::object o{{"range", to_json(d.range)},
                 {"severity", static_cast<int>(d.severity)},
                 {"source", d.source},
                 {"message", d.message}};
  if (!d.code.empty()) o["code"] = d.code;
  return o;
}

json::value to_json(const Command& c) {
  return {{"title", c.title}, {"command", c.command}, {"arguments", c.arguments}};
}

json::value to_json(const CodeLens& l) { return {{"range", to_json(l.range)}, {"command", to_json(l.command)}}; }

json::value code_action(const Command& c) { return {{"title", c.title}, {"kind", "source"}, {"command", to_json(c)}}; }

json::value publish_diagnostics(const std::string& uri, const std::vector<Diagnostic>& diagnostics) {
  json::array a;
  for (const auto& d : diagnostics) a.push_back(to_json(d));
  return {{"uri", uri}, {"diagnostics", std::move(a)}};
}

json::value show_message(MessageType type, const std::string& message) {
  return {{"type", static_cast<int>(type)}, {"message", message}};
}

}  // namespace torchexam::lsp
