// lsp_types.hpp — the Language Server Protocol messages this server reads and
// writes, as structs with their JSON conversion (the subset it implements).
//
// Reading is lenient where LSP is open-ended: unknown fields are ignored (a
// client sends many capabilities we do not use), but a field we need with a
// wrong type is an RpcError(invalid_params) naming it. Writing follows the
// LSP 3.17 shapes. Positions are 0-based here, as on the wire.
#pragma once

#include "protocol/file_uri.hpp"
#include "protocol/jsonrpc.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::lsp {
namespace json = boost::json;

using protocol::file_uri;  // protocol/file_uri.hpp
using protocol::path_of_uri;

// What the client says it can do; everything defaults to "cannot".
struct ClientCapabilities {
  bool work_done_progress = false;    // window.workDoneProgress
  bool show_document = false;         // window.showDocument.support
  bool code_lens_refresh = false;     // workspace.codeLens.refreshSupport
  bool code_action_literals = false;  // textDocument.codeAction.codeActionLiteralSupport
  bool timer_notification = false;    // experimental.torchexamTimer (our own)
  // experimental.torchexamReportView (our own, the VS Code extension): the
  // client shows an HTML report itself, so window/showDocument asks for no
  // external program, and it gets each submission/progress note as
  // torchexam/progress (the daemon's params) for its live loss curve.
  bool report_view = false;
};

struct InitializeParams {
  std::optional<std::filesystem::path> root;  // rootUri, else the first workspace folder, else rootPath
  ClientCapabilities capabilities;
};
InitializeParams initialize_params(const json::value& v);

struct TextDocumentParams {  // any params with a textDocument.uri
  std::string uri;
};
TextDocumentParams text_document_params(const json::value& v);

struct ExecuteCommandParams {
  std::string command;
  json::array arguments;
};
ExecuteCommandParams execute_command_params(const json::value& v);

struct Position {
  int line = 0;
  int character = 0;
};
struct Range {
  Position start, end;
};

enum class Severity { error = 1, warning = 2, information = 3, hint = 4 };

struct Diagnostic {
  Range range;
  Severity severity = Severity::error;
  std::string source = "torchexam";
  std::string code;  // e.g. "syntax", "compile_error", "contract"
  std::string message;
};

struct Command {
  std::string title;
  std::string command;
  json::array arguments;
};

struct CodeLens {
  Range range;
  Command command;
};

enum class MessageType { error = 1, warning = 2, info = 3, log = 4 };

json::value to_json(const Position& p);
json::value to_json(const Range& r);
json::value to_json(const Diagnostic& d);
json::value to_json(const Command& c);
json::value to_json(const CodeLens& l);
// A CodeAction literal wrapping a command (kind "source").
json::value code_action(const Command& c);

json::value publish_diagnostics(const std::string& uri, const std::vector<Diagnostic>& diagnostics);
json::value show_message(MessageType type, const std::string& message);

}  // namespace torchexam::lsp
