#include "lsp/lsp_types.hpp"

#include <fmt/format.h>

#include <cctype>

namespace torchexam::lsp {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string file_uri(const std::filesystem::path& path) {
  std::string out = "file://";
  for (unsigned char c : path.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::optional<std::filesystem::path> path_of_uri(std::string_view uri) {
  constexpr std::string_view scheme = "file://";
  if (uri.substr(0, scheme.size()) != scheme) return std::nullopt;
  uri.remove_prefix(scheme.size());
  if (uri.substr(0, 9) == "localhost") uri.remove_prefix(9);
  std::string path;
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && hex(uri[i + 1]) >= 0 && hex(uri[i + 2]) >= 0) {
      path += static_cast<char>(hex(uri[i + 1]) * 16 + hex(uri[i + 2]));
      i += 2;
    } else {
      path += uri[i];
    }
  }
  if (path.empty() || path[0] != '/') return std::nullopt;
  return std::filesystem::path(path).lexically_normal();
}

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
