#include "daemon/clangd_checker.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "base/paths.hpp"
#include "grading/compiler.hpp"
#include "protocol/channel.hpp"
#include "protocol/file_uri.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <string_view>

namespace torchexam::daemon {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// clangd holding one file's LibTorch preamble in memory peaked at 0.7 GB
// resident (e2e.save_check_equal), and each file a session saves adds a
// preamble; the sandbox's limit is a cgroup's, or RLIMIT_AS (address space,
// which a threaded program spends faster) where there is none.
constexpr uint64_t kClangdMemoryBytes = uint64_t{6} << 30;
constexpr auto kInitializeWithin = std::chrono::seconds(20);
// clangd processes a session may start; after that g++ checks its saves.
constexpr int kMaxStarts = 3;

// --- Messages to clangd (LSP 3.17 and clangd's extensions) -----------------

// No processId: clangd in the sandbox's PID namespace would watch a pid it
// cannot see and exit at once. Diagnostics with their version (so a check
// knows the answer is to its save) and notes as related information;
// columns in UTF-8 bytes, as g++ counts them (clangd's offsetEncoding).
struct InitializeParams {};
void tag_invoke(json::value_from_tag, json::value& v, const InitializeParams&) {
  json::object publish{{"relatedInformation", true}, {"versionSupport", true}};
  json::object text_document{{"publishDiagnostics", std::move(publish)}};
  json::object capabilities{{"textDocument", std::move(text_document)}, {"offsetEncoding", json::array{"utf-8"}}};
  v = json::object{{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", std::move(capabilities)}};
}

struct CompileCommand {
  fs::path file;
  fs::path directory;
  std::vector<std::string> arguments;
};

// workspace/didChangeConfiguration with clangd's compilationDatabaseChanges:
// the command of one file, which overrides any compile_commands.json.
struct ConfigurationParams {
  CompileCommand command;
};
void tag_invoke(json::value_from_tag, json::value& v, const ConfigurationParams& p) {
  json::object changes;
  changes[p.command.file.string()] = json::object{{"workingDirectory", p.command.directory.string()},
                                                  {"compilationCommand", json::value_from(p.command.arguments)}};
  v = json::object{{"settings", json::object{{"compilationDatabaseChanges", std::move(changes)}}}};
}

struct DidOpenParams {
  std::string uri;
  int64_t version = 0;
  std::string text;
};
void tag_invoke(json::value_from_tag, json::value& v, const DidOpenParams& p) {
  v = json::object{{"textDocument", json::object{{"uri", p.uri}, {"languageId", "cpp"}, {"version", p.version},
                                                 {"text", p.text}}}};
}

// The whole text, as saved.
struct DidChangeParams {
  std::string uri;
  int64_t version = 0;
  std::string text;
};
void tag_invoke(json::value_from_tag, json::value& v, const DidChangeParams& p) {
  v = json::object{{"textDocument", json::object{{"uri", p.uri}, {"version", p.version}}},
                   {"contentChanges", json::array{json::object{{"text", p.text}}}}};
}

// --- What clangd sends: textDocument/publishDiagnostics --------------------

struct Position {
  int line = 0;       // 0-based
  int character = 0;  // 0-based, UTF-8 bytes (negotiated)
};
Position tag_invoke(json::value_to_tag<Position>, const json::value& v) {
  const json_shape::Object o(v);
  return {o.required<int>("line"), o.required<int>("character")};
}

// A range's start: where g++ puts its line and column.
Position range_start(const json_shape::Object& o) {
  try {
    return json_shape::Object(o.required<json::value>("range")).required<Position>("start");
  } catch (const json_shape::ShapeError& e) {
    throw e.within(".range");
  }
}

struct Related {
  std::string uri;
  Position start;
  std::string message;
};
Related tag_invoke(json::value_to_tag<Related>, const json::value& v) {
  const json_shape::Object o(v);
  const json::value where = o.required<json::value>("location");  // Object reads it in place
  const json_shape::Object location(where);
  return {location.required<std::string>("uri"), range_start(location), o.required<std::string>("message")};
}

struct LspDiagnostic {
  Position start;
  int severity = 1;  // 1 error, 2 warning, 3 information, 4 hint
  std::string code;  // clang's diagnostic name ("pp_file_not_found"), when a string
  std::string message;
  std::vector<Related> related;
};
LspDiagnostic tag_invoke(json::value_to_tag<LspDiagnostic>, const json::value& v) {
  const json_shape::Object o(v);
  LspDiagnostic d;
  d.start = range_start(o);
  d.severity = o.optional<int>("severity", 1);
  if (const json::value code = o.optional<json::value>("code"); code.is_string()) d.code = code.get_string();
  d.message = o.required<std::string>("message");
  d.related = o.optional<std::vector<Related>>("relatedInformation");
  return d;
}

struct PublishDiagnosticsParams {
  std::string uri;
  std::optional<int64_t> version;
  std::vector<LspDiagnostic> diagnostics;
};
PublishDiagnosticsParams tag_invoke(json::value_to_tag<PublishDiagnosticsParams>, const json::value& v) {
  const json_shape::Object o(v);
  return {o.required<std::string>("uri"), o.optional<std::optional<int64_t>>("version"),
          o.required<std::vector<LspDiagnostic>>("diagnostics")};
}

const protocol::Note<PublishDiagnosticsParams> kPublishDiagnostics{"textDocument/publishDiagnostics"};

// The errors both compilers treat as fatal (parsing stops), by clang's name.
bool fatal(const std::string& code) { return code == "pp_file_not_found" || code == "fatal_too_many_errors"; }

// clangd's diagnostics of `file` as the g++ check gives them (see the header).
std::vector<Diagnostic> diagnostics_of(const PublishDiagnosticsParams& p, const fs::path& file) {
  std::vector<Diagnostic> out;
  for (const auto& d : p.diagnostics) {
    std::string severity;
    if (d.severity == 1)
      severity = fatal(d.code) ? "fatal error" : "error";
    else if (d.severity == 2)
      severity = "warning";
    else
      continue;
    out.push_back({severity, file.string(), d.start.line + 1, d.start.character + 1, d.message});
    for (const auto& r : d.related) {
      const auto path = protocol::path_of_uri(r.uri);
      out.push_back({"note", path ? path->string() : r.uri, r.start.line + 1, r.start.character + 1, r.message});
    }
    // g++ stops at a fatal error; clangd goes on, mostly with errors that
    // follow from it (names the missing header would have declared).
    if (severity == "fatal error") break;
  }
  return bound_diagnostics(std::move(out), file.string());
}

// One compile_commands.json entry.
struct DatabaseEntry {
  fs::path directory;
  fs::path file;
  std::vector<std::string> arguments;
};
DatabaseEntry tag_invoke(json::value_to_tag<DatabaseEntry>, const json::value& v) {
  const json_shape::Object o(v);
  return {o.required<fs::path>("directory"), o.required<fs::path>("file"),
          o.required<std::vector<std::string>>("arguments")};
}

// The task folder's compile_commands.json entry for `file`, else the
// environment's flags (what provisioning writes there).
CompileCommand compile_command(const SaveCheck& c) {
  const fs::path file = fs::absolute(c.file).lexically_normal();
  const fs::path db = file.parent_path() / "compile_commands.json";
  try {
    for (const auto& e : json_shape::parse<std::vector<DatabaseEntry>>(read_file(db), db.string()))
      if ((e.directory / e.file).lexically_normal() == file) return {file, e.directory, clang_command(e.arguments)};
  } catch (const std::exception&) {
    // Missing, unreadable or not an array of entries with "arguments": the environment's flags.
  }
  const Compiler compiler(c.options);
  std::vector<std::string> command{compiler.executable()};
  const auto flags = compiler.compile_flags();
  command.insert(command.end(), flags.begin(), flags.end());
  command.push_back(file.string());
  return {file, file.parent_path(), clang_command(command)};
}

bool gcc_only(std::string_view flag) {
  // Exact names, and families (a trailing '=' or '-') of GCC's that clang
  // refuses as unknown arguments; -fmax-errors= is the harness's bound,
  // which bound_diagnostics() keeps for clangd.
  static constexpr std::string_view kGccOnly[] = {
      "-fdiagnostics-plain-output", "-fmax-errors=", "-fconcepts-diagnostics-depth=", "-fno-gnu-unique",
      "-fipa-", "-fno-ipa-", "-ftree-", "-fno-tree-", "-fvect-cost-model=", "-fsimd-cost-model=",
      "-fdiagnostics-urls=", "-fdiagnostics-column-unit="};
  for (std::string_view g : kGccOnly) {
    const bool family = g.back() == '=' || g.back() == '-';
    if (family ? flag.substr(0, g.size()) == g : flag == g) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> clang_command(const std::vector<std::string>& gcc) {
  if (gcc.empty()) return {};
  const std::string forced = (paths::sdk_include_dir() / "torchexam" / "solution.h").string();
  // A -W that only g++ knows would be a clang warning on every save.
  std::vector<std::string> out{gcc[0], "-Wno-unknown-warning-option"};
  bool has_forced = false;
  for (size_t i = 1; i < gcc.size(); ++i) {
    const std::string& a = gcc[i];
    if (a == "-include" && i + 1 < gcc.size()) {
      std::string header = gcc[++i];
      std::error_code ec;
      // clang would take GCC's .gch beside the header for its own PCH and
      // fail; the harness's precompiled header is <torchexam/solution.h>.
      if (fs::exists(header + ".gch", ec)) header = forced;
      has_forced = has_forced || header == forced;
      out.insert(out.end(), {"-include", header});
    } else if (!gcc_only(a)) {
      out.push_back(a);
    }
  }
  // Every compile of candidate code has <torchexam/solution.h> forced in (the PCH).
  if (!has_forced) out.insert(out.begin() + 1, {"-include", forced});
  return out;
}

// One clangd: its process, the channel to it, the documents it holds.
struct ClangdChecker::Server {
  asio::io_context io;  // first: the channel's handlers go before it
  std::unique_ptr<PipedChild> child;
  std::shared_ptr<protocol::StdioChannel> channel;
  protocol::Binder incoming;
  fs::path job;                        // its sandbox job folder
  std::optional<std::string> closed;   // why the connection ended
  int64_t initialize_id = 1;
  bool initialized = false;      // initialize answered
  std::string initialize_error;  // and refused, with this message
  struct Document {
    int64_t version = 0;
    bool warm = false;  // clangd has published for it: its preamble is built
    std::optional<PublishDiagnosticsParams> published;  // for `version`
  };
  std::map<std::string, Document> documents;  // by URI

  ~Server() {
    if (channel) channel->close();
    io.restart();
    io.poll();  // the closed channel's handlers let go of it
    channel.reset();
    child.reset();  // kills it
    std::error_code ec;
    if (!job.empty()) fs::remove_all(job, ec);
  }

  void receive(const std::string& body) {
    auto parsed = protocol::parse_message(body);
    auto* m = std::get_if<protocol::Message>(&parsed);
    if (!m) return;  // clangd speaks JSON-RPC; nothing to answer a malformed message with
    if (m->kind != protocol::Message::Kind::response) {
      incoming.dispatch(*m, [this](std::string reply) { channel->send(reply); });
      return;
    }
    if (m->id.is_int64() && m->id.get_int64() == initialize_id) {
      initialized = true;
      if (m->error) initialize_error = m->error->second.empty() ? "(no message)" : m->error->second;
    }
  }

  template <class P>
  void notify(const char* method, const P& params) {
    channel->send(protocol::make_notification(method, json::value_from(params)));
  }

  // Runs the channel until done() holds, the connection ends or `until`
  // passes; whether done() holds.
  template <class F>
  bool run_until(F done, Clock::time_point until) {
    while (!done() && !closed) {
      if (io.stopped()) io.restart();
      if (io.run_one_until(until) == 0 && (Clock::now() >= until || io.stopped())) break;
    }
    return done();
  }
  // What arrived meanwhile (a crash, a late answer), without waiting.
  void poll() {
    io.restart();
    io.poll();
  }
};

ClangdChecker::ClangdChecker(ClangdOptions options)
    : o_(std::move(options)), launcher_(o_.launcher ? *o_.launcher : system_launcher()) {
  if (!o_.fallback) o_.fallback = std::make_shared<GccSaveChecker>();
  if (o_.work_dir.empty()) o_.work_dir = paths::cache_dir() / "clangd";
  clangd_ = launcher_.find_executable(o_.clangd.string());
}

ClangdChecker::~ClangdChecker() = default;

std::optional<pid_t> ClangdChecker::pid(const std::string& session) const {
  auto it = servers_.find(session);
  if (it == servers_.end() || !it->second) return std::nullopt;
  return it->second->child->pid();
}

void ClangdChecker::end_session(const std::string& session) {
  servers_.erase(session);
  starts_.erase(session);
  given_up_.erase(session);
}

void ClangdChecker::say_once(const std::string& key, const std::string& session, const std::string& what) {
  if (!logged_.insert(key).second) return;
  const std::string line = fmt::format("save-time check of session {}: {}", session, what);
  if (o_.log)
    o_.log(line);
  else
    fmt::print(stderr, "torchexamd: {}\n", line);
}

std::vector<Diagnostic> ClangdChecker::fall_back(const SaveCheck& c, const std::string& key, const std::string& why) {
  say_once(key, c.session, why + " (g++ -fsyntax-only answers)");
  ++counts_.gcc;
  return o_.fallback->check(c);
}

std::unique_ptr<ClangdChecker::Server> ClangdChecker::start(const SaveCheck& c) {
  auto s = std::make_unique<Server>();
  const fs::path file = fs::absolute(c.file).lexically_normal();
  const fs::path workspace = file.parent_path().parent_path();  // <workspace>/<task>/solution.cpp
  Sha256 h;
  const std::string tag = fmt::format("clangd-{}-{}", ::getpid(), h.field(c.session).hex().substr(0, 16));
  s->job = o_.work_dir / tag;
  fs::create_directories(s->job);
  // No index, no clang-tidy, no config files (a .clangd in the workspace
  // could change the flags), the preamble in memory rather than in /tmp.
  const std::vector<std::string> command{clangd_.string(),          "--log=error",
                                         "--background-index=false", "--clang-tidy=false",
                                         "--header-insertion=never", "--pch-storage=memory",
                                         "--enable-config=false"};
  ProcessSpec spec;
  if (o_.sandbox) {
    spec = sandboxed_command(s->job, {workspace}, command, kClangdMemoryBytes);
  } else {
    spec.exe = clangd_;
    spec.args.assign(command.begin() + 1, command.end());
    spec.cwd = s->job;
  }
  spec.stderr_file = o_.work_dir / (tag + ".log");
  s->child = launcher_.start_piped(spec);
  ++counts_.started;

  protocol::StdioStream stream{asio::posix::stream_descriptor(s->io, s->child->take_stdout()),
                               asio::posix::stream_descriptor(s->io, s->child->take_stdin())};
  s->channel = std::make_shared<protocol::StdioChannel>(std::move(stream));
  Server* self = s.get();
  self->incoming.bind(kPublishDiagnostics, [self](const PublishDiagnosticsParams& p) {
    auto it = self->documents.find(p.uri);
    if (it == self->documents.end()) return;
    it->second.warm = true;
    // An answer to an earlier save is not this save's.
    if (!p.version || *p.version == it->second.version) it->second.published = p;
  });
  s->channel->start({[self](std::string body) { self->receive(body); }, {},
                     [self](const boost::system::error_code& why) {
                       self->closed = why == asio::error::eof ? "it closed its output: exited or killed" : why.message();
                     }});
  s->channel->send(protocol::make_request(s->initialize_id, "initialize", json::value_from(InitializeParams{})));
  if (!s->run_until([self] { return self->initialized; }, Clock::now() + kInitializeWithin))
    throw std::runtime_error(s->closed ? "clangd " + *s->closed : "clangd did not answer initialize within 20 s");
  if (!s->initialize_error.empty()) throw std::runtime_error("clangd refused initialize: " + s->initialize_error);
  s->notify("initialized", json::object());
  return s;
}

std::vector<Diagnostic> ClangdChecker::check(const SaveCheck& c) {
  if (clangd_.empty())
    return fall_back(c, "missing", fmt::format("clangd is not installed ({} not found)", o_.clangd.string()));
  auto& server = servers_[c.session];
  if (server) {
    server->poll();
    if (!server->closed && !server->child->running()) server->closed = "exited";
    if (server->closed) {
      say_once(c.session + "/gone", c.session, "clangd " + *server->closed + "; a new one starts");
      server.reset();
    }
  }
  if (!server) {
    const std::string gave_up = c.session + "/gave-up";
    if (starts_[c.session] >= kMaxStarts && !given_up_.count(c.session))
      given_up_[c.session] = fmt::format("clangd ended {} times in this session; g++ checks its saves from now on",
                                         kMaxStarts);
    if (auto it = given_up_.find(c.session); it != given_up_.end()) return fall_back(c, gave_up, it->second);
    ++starts_[c.session];
    try {
      server = start(c);
    } catch (const std::exception& e) {
      server.reset();
      // A start that fails once fails again.
      given_up_[c.session] = std::string("clangd did not start (") + e.what() + "); g++ checks its saves";
      return fall_back(c, gave_up, given_up_[c.session]);
    }
  }

  Server& s = *server;
  const CompileCommand command = compile_command(c);
  const std::string uri = protocol::file_uri(command.file);
  const std::string text = read_file(command.file);
  auto [it, opened] = s.documents.try_emplace(uri);
  Server::Document& doc = it->second;
  doc.published.reset();
  ++doc.version;
  if (opened) {
    s.notify("workspace/didChangeConfiguration", ConfigurationParams{command});
    s.notify("textDocument/didOpen", DidOpenParams{uri, doc.version, text});
  } else {
    s.notify("textDocument/didChange", DidChangeParams{uri, doc.version, text});
  }
  if (!doc.warm && o_.answer_cold_with_gcc) {
    // clangd builds this file's preamble behind g++'s answer (and a save
    // while it still does is answered the same way).
    s.poll();
    ++counts_.gcc;
    return o_.fallback->check(c);
  }

  const auto until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.timeout_s));
  if (s.run_until([&doc] { return doc.published.has_value(); }, until)) {
    ++counts_.clangd;
    return diagnostics_of(*doc.published, command.file);
  }
  if (s.closed) {
    const std::string why = "clangd " + *s.closed + " while checking; the next save starts a new one";
    server.reset();
    return fall_back(c, c.session + "/exited", why);
  }
  return fall_back(c, c.session + "/timeout",
                   fmt::format("clangd gave no diagnostics within {:.0f} s (kept running: it may be building its "
                               "preamble)",
                               c.timeout_s));
}

}  // namespace torchexam::daemon
