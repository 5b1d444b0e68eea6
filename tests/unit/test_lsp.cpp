// The language server's logic without processes: URIs, the wording and line
// mapping of diagnostics, progress, and the server driven through fake
// editor and daemon endpoints (every message it sends is recorded).
#include <doctest/doctest.h>

#include "client/backoff.hpp"
#include "lsp/diagnostics_book.hpp"
#include "lsp/lsp_types.hpp"
#include "lsp/progress_reporter.hpp"
#include "lsp/server.hpp"
#include "lsp/translate.hpp"

#include <deque>
#include <fstream>

using namespace torchexam::lsp;
namespace json = boost::json;
namespace protocol = torchexam::protocol;
using torchexam::ProgressNote;
using Kind = torchexam::events::Progress::Kind;
namespace fs = std::filesystem;

namespace {

struct Sent {
  std::string method;
  json::value params;
  bool request;
};

// Records what is sent; requests are answered by `answer` (or kept pending).
struct FakeEndpoint : Endpoint {
  std::vector<Sent> sent;
  std::deque<std::pair<std::string, Callback>> pending;
  std::function<std::optional<Result>(const std::string&, const json::value&)> answer;

  void request(std::string_view method, json::value params, Callback cb) override {
    sent.push_back({std::string(method), params, true});
    if (answer)
      if (auto r = answer(std::string(method), params)) return cb(std::move(*r));
    pending.emplace_back(std::string(method), std::move(cb));
  }
  void notify(std::string_view method, json::value params) override {
    sent.push_back({std::string(method), std::move(params), false});
  }
  std::vector<Sent> of(const std::string& method) const {
    std::vector<Sent> out;
    for (const auto& s : sent)
      if (s.method == method) out.push_back(s);
    return out;
  }
};

ProgressNote train_note(int epoch, int64_t batch) {
  ProgressNote n{"s1", 7, "fashion_mnist", torchexam::Stage::train, 0, torchexam::events::Progress{}};
  auto& p = *n.progress;
  p.kind = Kind::batch;
  p.epoch = epoch;
  p.epochs = 2;
  p.batch = batch;
  p.batches = 20;
  p.loss = 0.5;
  p.eta_s = 3;
  return n;
}

json::value status_json(const fs::path& ws) {
  protocol::ExamStatus st;
  st.session = "s1";
  st.mode = "practice";
  st.state = torchexam::SessionState::running;
  st.workspace = ws.string();
  st.remaining_s = 3.6E3;
  torchexam::TaskSummary t;
  t.id = "fashion_mnist";
  t.folder = ws / "fashion_mnist";
  t.best_score = 4;
  t.last_verdict = "timeout";
  t.submissions = 2;
  t.diagnostics = {{"error", (ws / "fashion_mnist/solution.cpp").string(), 3, 5, "expected ';'"}};
  st.tasks = {t};
  return json::value_from(st);
}

json::value init_params(const fs::path& root, bool progress, bool lens_refresh) {
  json::object caps{{"window", {{"workDoneProgress", progress}, {"showDocument", {{"support", false}}}}},
                    {"workspace", {{"codeLens", {{"refreshSupport", lens_refresh}}}}}};
  return {{"processId", nullptr}, {"rootUri", file_uri(root)}, {"capabilities", caps}};
}

// The editor's first two messages: initialize (rooted at `root`) and initialized.
void start_editor(LspServer& server, const fs::path& root) {
  torchexam::protocol::Binder editor_methods;
  server.bind_editor(editor_methods);
  torchexam::protocol::Message m;
  m.kind = torchexam::protocol::Message::Kind::request;
  m.id = 1;
  m.method = "initialize";
  m.params = init_params(root, true, true);
  editor_methods.dispatch(m, [](std::string) {});
  m.kind = torchexam::protocol::Message::Kind::notification;
  m.method = "initialized";
  editor_methods.dispatch(m, [](std::string) {});
}

// One message to `b` as a peer sends it: a request (id 1) or a
// notification; the reply parsed, or null when there is none.
json::value dispatch(torchexam::protocol::Binder& b, const char* method, json::value params, bool request) {
  torchexam::protocol::Message m;
  m.kind = request ? torchexam::protocol::Message::Kind::request : torchexam::protocol::Message::Kind::notification;
  m.id = 1;
  m.method = method;
  m.params = std::move(params);
  std::string reply;
  b.dispatch(m, [&](std::string r) { reply = std::move(r); });
  return reply.empty() ? json::value() : json::parse(reply);
}

}  // namespace

TEST_SUITE("lsp") {
  TEST_CASE("file URIs round-trip, percent-encoded") {
    const fs::path p = "/home/ana/my exam/fashion_mnist/solution.cpp";
    CHECK(file_uri(p) == "file:///home/ana/my%20exam/fashion_mnist/solution.cpp");
    CHECK(path_of_uri(file_uri(p)) == p);
    CHECK(path_of_uri("file:///a/%C3%A9t%c3%a9") == fs::path("/a/été"));
    CHECK_FALSE(path_of_uri("untitled:Untitled-1"));
    CHECK_FALSE(path_of_uri("file://relative"));
  }

  TEST_CASE("client capabilities are read, absent ones are false") {
    auto p = initialize_params(init_params("/ws", true, false));
    CHECK(p.root == fs::path("/ws"));
    CHECK(p.capabilities.work_done_progress);
    CHECK_FALSE(p.capabilities.code_lens_refresh);
    CHECK_FALSE(p.capabilities.show_document);
    auto bare =
        initialize_params(json::value{{"rootUri", nullptr},
                                      {"capabilities", json::object{}},
                                      {"workspaceFolders", json::array{{{"uri", "file:///w2"}, {"name", "w2"}}}}});
    CHECK(bare.root == fs::path("/w2"));
    CHECK_FALSE(bare.capabilities.work_done_progress);
    CHECK_THROWS_AS(initialize_params(json::value{{"rootUri", 5}}), torchexam::protocol::RpcError);
  }

  TEST_CASE("compiler diagnostics: 1-based to 0-based, severities") {
    auto d = to_lsp(torchexam::Diagnostic{"error", "/x/solution.cpp", 10, 72, "expected ';'"}, "syntax");
    CHECK(d.range.start.line == 9);
    CHECK(d.range.start.character == 71);
    CHECK(d.severity == Severity::error);
    CHECK(to_lsp(torchexam::Diagnostic{"warning", "", 0, 0, "stopped"}, "syntax").range.start.line == 0);
    CHECK(to_lsp(torchexam::Diagnostic{"note", "", 1, 0, ""}, "").severity == Severity::information);
  }

  TEST_CASE("a submission's verdict points at the right line") {
    const std::string source =
        "#include <x>\n\nstruct NetImpl : torch::nn::Module {\n};\nTORCH_MODULE(Net);\n\nvoid train(Net& m) {\n}\n";
    protocol::Submission s;
    s.file = "solution.cpp";
    s.verdict = "contract";
    s.message = "the model's output has shape [50, 3]; expected [50, 10]";
    auto c = submission_diagnostics(s, source);
    REQUIRE(c.size() == 1);
    CHECK(c[0].range.start.line == 4);  // TORCH_MODULE(Net)
    CHECK(c[0].code == "contract");

    s.verdict = "runtime_error";
    s.message = "boom";
    CHECK(submission_diagnostics(s, source).at(0).range.start.line == 6);  // void train(
    s.detail = "at solution.cpp:2";
    CHECK(submission_diagnostics(s, source).at(0).range.start.line == 1);

    s.verdict = "compile_error";
    s.result = torchexam::GradeRecord{};
    s.result->grade.diagnostics = {{"error", "/state/jobs/3-1/src/solution.cpp", 8, 3, "'x' was not declared"},
                                   {"note", "/usr/include/torch/nn.h", 100, 1, "in a header"}};
    auto ce = submission_diagnostics(s, source);
    REQUIRE(ce.size() == 1);
    CHECK(ce[0].range.start.line == 7);

    s.verdict = "ok";
    CHECK(submission_diagnostics(s, source).empty());
  }

  TEST_CASE("lens titles, progress text and percentage") {
    torchexam::TaskSummary t;
    t.best_score = 4;
    t.last_verdict = "timeout";
    CHECK(lens_title(t) == "best 4/5 · last: timeout");
    t.last_verdict.clear();
    t.best_score = 0;
    CHECK(lens_title(t) == "best 0/5 · not submitted yet");

    auto p = train_note(2, 10);
    CHECK(progress_message(p) == "training: epoch 2/2 · batch 10/20 · loss 0.5000 · ETA 3s");
    CHECK(progress_percentage(p) == 10 + 60);
    p.progress->kind = Kind::epoch;
    CHECK(progress_percentage(p) == 90);
    p.stage = torchexam::Stage::queued;
    p.queue_position = 2;
    CHECK(progress_message(p) == "queued (position 2)");
    CHECK_FALSE(progress_percentage(p));
    p.stage = torchexam::Stage::stage;  // the data is staged before the build: the bar starts at 0, never goes back
    CHECK(progress_message(p) == "preparing the task's data");
    CHECK(progress_percentage(p) == 0);
    CHECK(remaining_text(3599.6) == "1h 00m");
    CHECK(remaining_text(570) == "9m 30s");
  }

  TEST_CASE("work-done progress waits for the token, then begins, reports and ends") {
    FakeEndpoint editor;
    ProgressReporter r(editor, true);
    auto queued = train_note(1, 0);
    queued.stage = torchexam::Stage::queued;
    queued.progress.reset();
    r.update(queued);
    r.update(train_note(1, 5));
    REQUIRE(editor.of("window/workDoneProgress/create").size() == 1);
    CHECK(editor.of("$/progress").empty());  // not before the client accepted the token
    editor.pending.front().second(json::value(nullptr));
    auto progress = editor.of("$/progress");
    REQUIRE(progress.size() == 1);
    CHECK(progress[0].params.at("value").at("kind") == "begin");
    CHECK(progress[0].params.at("value").at("message") == "training: epoch 1/2 · batch 5/20 · loss 0.5000 · ETA 3s");
    r.update(train_note(2, 10));
    protocol::Finished f;
    f.submission = 7;
    f.state = torchexam::SubmissionState::finished;
    f.verdict = "ok";
    f.score = 3;
    r.finish(f);
    progress = editor.of("$/progress");
    REQUIRE(progress.size() == 3);
    CHECK(progress[1].params.at("value").at("kind") == "report");
    CHECK(progress[2].params.at("value").at("kind") == "end");
    CHECK(progress[2].params.at("value").at("message") == "score 3/5 (ok)");
  }

  TEST_CASE("without work-done progress: one log line per stage and epoch, none per batch") {
    FakeEndpoint editor;
    ProgressReporter r(editor, false);
    auto build = train_note(1, 0);
    build.stage = torchexam::Stage::build;
    build.progress.reset();
    r.update(build);
    for (int b = 1; b <= 5; ++b) r.update(train_note(1, b));
    auto epoch = train_note(1, 20);
    epoch.progress->kind = Kind::epoch;
    r.update(epoch);
    CHECK(editor.of("$/progress").empty());
    CHECK(editor.of("window/workDoneProgress/create").empty());
    CHECK(editor.of("window/logMessage").size() == 3);  // build, training, epoch 1 done
  }

  TEST_CASE("server: capabilities, lenses, diagnostics and a foreign workspace") {
    const fs::path ws = fs::temp_directory_path() / "torchexam-lsp-unit";
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string& m, const json::value&) -> std::optional<Result> {
      if (m == "exam/status") return Result(status_json(ws));
      return std::nullopt;
    };
    int exit_code = -1;
    LspServer server(editor, daemon, "0.1.0", [&](int c) { exit_code = c; });
    torchexam::protocol::Binder editor_methods, daemon_notes;
    server.bind_editor(editor_methods);
    server.bind_daemon(daemon_notes);
    std::vector<std::string> replies;
    auto call = [&](const char* method, json::value params) {
      torchexam::protocol::Message m;
      m.kind = torchexam::protocol::Message::Kind::request;
      m.id = 1;
      m.method = method;
      m.params = std::move(params);
      replies.clear();
      editor_methods.dispatch(m, [&](std::string s) { replies.push_back(std::move(s)); });
      REQUIRE(replies.size() == 1);
      return json::parse(replies[0]);
    };
    auto note = [&](torchexam::protocol::Binder& b, const char* method, json::value params) {
      torchexam::protocol::Message m;
      m.kind = torchexam::protocol::Message::Kind::notification;
      m.method = method;
      m.params = std::move(params);
      b.dispatch(m, [](std::string) {});
    };

    auto init = call("initialize", init_params(ws, false, true));
    const auto& caps = init.at("result").at("capabilities");
    CHECK(caps.at("codeLensProvider").at("resolveProvider") == false);
    CHECK(caps.at("executeCommandProvider").at("commands").as_array().size() == 5);
    CHECK_FALSE(caps.as_object().contains("hoverProvider"));
    note(editor_methods, "initialized", json::object{});
    auto published = editor.of("textDocument/publishDiagnostics");
    REQUIRE(published.size() == 1);
    CHECK(published[0].params.at("uri") == json::value(file_uri(ws / "fashion_mnist/solution.cpp")));
    CHECK(published[0].params.at("diagnostics").at(0).at("range").at("start").at("line") == 2);

    const std::string uri = file_uri(ws / "fashion_mnist/solution.cpp");
    auto lenses = call("textDocument/codeLens", json::value{{"textDocument", {{"uri", uri}}}});
    const auto& l = lenses.at("result").as_array();
    REQUIRE(l.size() == 3);
    CHECK(l[0].at("command").at("title") == "Submit & grade");
    CHECK(l[0].at("command").at("command") == "torchexam.submit");
    CHECK(l[1].at("command").at("title") == "best 4/5 · last: timeout");
    CHECK(l[2].at("command").at("title") == "Open report");
    CHECK(l[2].at("command").at("command") == "torchexam.report");
    CHECK(l[2].at("command").at("arguments") == json::array{"fashion_mnist"});
    CHECK(call("textDocument/codeLens", json::value{{"textDocument", {{"uri", file_uri(ws / "notes.txt")}}}})
              .at("result")
              .as_array()
              .empty());
    auto actions = call("textDocument/codeAction", json::value{{"textDocument", {{"uri", uri}}}});
    CHECK(actions.at("result").at(0).at("command") == "torchexam.submit");  // a bare Command: no literal support

    // A finished submission: message, lens refresh (supported), a verdict diagnostic.
    note(daemon_notes, "submission/finished",
         json::value{{"session", "s1"},
                     {"submission", 3},
                     {"task", "fashion_mnist"},
                     {"state", "finished"},
                     {"verdict", "ok"},
                     {"metric", 0.81},
                     {"score", 5},
                     {"message", "accuracy 0.81"}});
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 1);
    CHECK(shown[0].params.at("message") == "fashion_mnist: 5/5 (ok) — accuracy 0.81");
    CHECK(editor.of("workspace/codeLens/refresh").size() == 1);
    // Another session's notes are not ours.
    note(daemon_notes, "submission/finished",
         json::value{{"session", "other"},
                     {"submission", 4},
                     {"task", "fashion_mnist"},
                     {"state", "finished"},
                     {"verdict", "ok"},
                     {"score", 1},
                     {"message", "x"}});
    CHECK(editor.of("window/showMessage").size() == 1);
    // Timer warnings become messages; no torchexam/timer without the capability.
    note(daemon_notes, "exam/timer", json::value{{"session", "s1"}, {"remaining_s", 599.0}, {"warning_minutes", 10}});
    CHECK(editor.of("window/showMessage").back().params.at("message") == "TorchExam: 10 minutes left in the exam");
    CHECK(editor.of("torchexam/timer").empty());

    auto bad = call("workspace/executeCommand", json::value{{"command", "torchexam.nope"}});
    CHECK(bad.at("error").at("code") == -32602);
    auto no_task = call("workspace/executeCommand", json::value{{"command", "torchexam.submit"}});
    CHECK(no_task.at("error").at("message") == "this command needs a task id or a file URI as its argument");

    call("shutdown", nullptr);
    note(editor_methods, "exit", json::object{});
    CHECK(exit_code == 0);
  }

  TEST_CASE("server: against a proctored server, paths are the local workspace's, a save goes to task/save and "
            "submit uploads") {
    const fs::path server_ws = "/srv/torchexam/state/candidates/ana";
    const fs::path local = fs::temp_directory_path() / "torchexam-lsp-unit-remote";
    fs::remove_all(local);
    fs::create_directories(local / "fashion_mnist");
    std::ofstream(local / "fashion_mnist/solution.cpp") << "// on disk\n";
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string& m, const json::value& p) -> std::optional<Result> {
      if (m == "exam/status") {
        CHECK_FALSE(p.as_object().contains("workspace"));  // the server knows the session by the login
        return Result(status_json(server_ws));
      }
      if (m == "task/save") return Result(json::value{{"source_sha256", std::string(64, 'a')}, {"bytes", 9}});
      if (m == "task/upload")
        return Result(json::value{
            {"submission", 12}, {"queue_position", 0}, {"source_sha256", std::string(64, 'b')}, {"bytes", 11}});
      return std::nullopt;
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    server.set_remote("");  // the editor's root is the joined workspace
    torchexam::protocol::Binder editor_methods, daemon_notes;
    server.bind_editor(editor_methods);
    server.bind_daemon(daemon_notes);
    const json::value init = dispatch(editor_methods, "initialize", init_params(local, false, false), true);
    CHECK(init.at("result").at("capabilities").at("textDocumentSync").at("save").at("includeText") == true);
    dispatch(editor_methods, "initialized", json::object{}, false);
    const std::string uri = file_uri(local / "fashion_mnist/solution.cpp");
    auto published = editor.of("textDocument/publishDiagnostics");
    REQUIRE(published.size() == 1);
    CHECK(published[0].params.at("uri") == json::value(uri));  // the server's diagnostics, on the local file

    // A save: the saved text goes to the server's check, not submitted.
    dispatch(editor_methods, "textDocument/didSave",
             json::value{{"textDocument", {{"uri", uri}}}, {"text", "int x = ;"}}, false);
    auto saves = daemon.of("task/save");
    REQUIRE(saves.size() == 1);
    CHECK(saves[0].params.at("task") == "fashion_mnist");
    CHECK(saves[0].params.at("file") == "solution.cpp");
    CHECK(saves[0].params.at("source") == "int x = ;");
    CHECK(daemon.of("task/submit").empty());
    CHECK(daemon.of("task/upload").empty());
    // Its diagnostics come back with the server's path, and land on the local file.
    dispatch(daemon_notes, "workspace/diagnostics",
             json::value{{"session", "s1"},
                         {"task", "fashion_mnist"},
                         {"file", (server_ws / "fashion_mnist/solution.cpp").string()},
                         {"diagnostics", json::array{{{"severity", "error"},
                                                      {"file", (server_ws / "fashion_mnist/solution.cpp").string()},
                                                      {"line", 1},
                                                      {"column", 9},
                                                      {"message", "expected expression"}}}}},
             false);
    published = editor.of("textDocument/publishDiagnostics");
    REQUIRE(published.size() == 2);
    CHECK(published[1].params.at("uri") == json::value(uri));
    CHECK(published[1].params.at("diagnostics").at(0).at("message") == "expected expression");
    // A file outside the task folders is not sent.
    dispatch(editor_methods, "textDocument/didSave",
             json::value{{"textDocument", {{"uri", file_uri(local / "notes.cpp")}}}, {"text", "x"}}, false);
    CHECK(daemon.of("task/save").size() == 1);

    // Submit uploads the file as it is on disk.
    const json::value submitted = dispatch(editor_methods, "workspace/executeCommand",
                                           json::value{{"command", "torchexam.submit"}, {"arguments", {uri}}}, true);
    CHECK(submitted.at("result").at("submission") == 12);
    auto uploads = daemon.of("task/upload");
    REQUIRE(uploads.size() == 1);
    CHECK(uploads[0].params.at("source") == "// on disk\n");
    CHECK(uploads[0].params.at("task") == "fashion_mnist");
    CHECK(daemon.of("task/submit").empty());
    fs::remove_all(local);
  }

  TEST_CASE("server: against a local daemon a save sends nothing (the daemon watches the files)") {
    const fs::path ws = fs::temp_directory_path() / "torchexam-lsp-unit-local-save";
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string& m, const json::value&) -> std::optional<Result> {
      if (m == "exam/status") return Result(status_json(ws));
      return std::nullopt;
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    start_editor(server, ws);
    torchexam::protocol::Binder editor_methods;
    server.bind_editor(editor_methods);
    torchexam::protocol::Message m;
    m.kind = torchexam::protocol::Message::Kind::notification;
    m.method = "textDocument/didSave";
    m.params = json::value{{"textDocument", {{"uri", file_uri(ws / "fashion_mnist/solution.cpp")}}}, {"text", "x"}};
    editor_methods.dispatch(m, [](std::string) {});
    CHECK(daemon.of("task/save").empty());
    CHECK(daemon.sent.size() == 1);  // the initial exam/status only
  }

  TEST_CASE("server: a workspace with no session of its own gets a message naming the start command") {
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string&, const json::value&) -> std::optional<Result> {
      return Result(status_json("/elsewhere"));  // the daemon's fallback: the only open session
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    start_editor(server, "/home/ana/other");
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 1);
    CHECK(shown[0].params.at("type") == 1);
    CHECK(shown[0].params.at("message") ==
          "TorchExam: no exam session for /home/ana/other; start one with: torchexam start ENV_DIR --workspace "
          "/home/ana/other");
    CHECK(editor.of("textDocument/publishDiagnostics").empty());
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("the diagnostics book: both sources in one list, an error found twice shown once") {
    FakeEndpoint editor;
    DiagnosticsBook book(editor);
    const fs::path file = "/ws/t/solution.cpp";
    Diagnostic syntax{{{11, 18}, {11, 19}}, Severity::error, "torchexam", "syntax", "expected ';'"};
    Diagnostic other{{{3, 0}, {4, 0}}, Severity::warning, "torchexam", "syntax", "unused variable"};
    book.set_syntax(file, {syntax, other});
    Diagnostic built = syntax;
    built.code = "compile_error";
    book.set_submission(file, {built});
    auto last = editor.of("textDocument/publishDiagnostics").back().params.at("diagnostics").as_array();
    REQUIRE(last.size() == 2);
    CHECK(last[0].at("code") == "compile_error");
    CHECK(last[1].at("message") == "unused variable");
    book.set_syntax(file, {});  // saved again, clean: the submission's errors go too
    CHECK(editor.of("textDocument/publishDiagnostics").back().params.at("diagnostics").as_array().empty());
  }

  TEST_CASE("towards editors, null params count as none; the daemon stays strict") {
    const char* body = R"({"jsonrpc":"2.0","id":4,"method":"shutdown","params":null})";
    CHECK(std::holds_alternative<torchexam::protocol::ParseFailure>(torchexam::protocol::parse_message(body)));
    auto lenient = torchexam::protocol::parse_message(body, true);
    REQUIRE(std::holds_alternative<torchexam::protocol::Message>(lenient));
    CHECK(std::get<torchexam::protocol::Message>(lenient).params.is_object());
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("the history report is one Markdown row per submission") {
    protocol::SubmissionInfo ok, queued;
    ok.submission = 3;
    ok.state = torchexam::SubmissionState::finished;
    ok.verdict = "ok";
    ok.score = 4;
    ok.message = "accuracy 0.8 | good\nline";
    queued.submission = 4;
    queued.state = torchexam::SubmissionState::queued;
    CHECK(history_markdown("fashion_mnist", {ok, queued}) ==
          "# fashion_mnist: submissions\n\n| id | state | verdict | score | message |\n|---|---|---|---|---|\n"
          "| 3 | finished | ok | 4/5 | accuracy 0.8   good line |\n| 4 | queued | - | 0/5 |  |\n");
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("server: without a daemon it still answers, says why once, and every command fails with it") {
    FakeEndpoint editor, daemon;
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    torchexam::protocol::Binder editor_methods;
    server.bind_editor(editor_methods);
    server.daemon_unavailable("cannot connect to torchexamd at /run/x.sock: No such file or directory");
    CHECK(editor.sent.empty());  // nothing before initialize
    std::vector<std::string> replies;
    auto send = [&](const char* method, json::value params, bool request) {
      torchexam::protocol::Message m;
      m.kind = request ? torchexam::protocol::Message::Kind::request : torchexam::protocol::Message::Kind::notification;
      m.id = 1;
      m.method = method;
      m.params = std::move(params);
      editor_methods.dispatch(m, [&](std::string s) { replies.push_back(std::move(s)); });
    };
    send("initialize", init_params("/ws", true, true), true);
    send("initialized", json::object{}, false);
    send("workspace/executeCommand", json::value{{"command", "torchexam.status"}}, true);
    send("workspace/executeCommand", json::value{{"command", "torchexam.submit"}, {"arguments", {"fashion_mnist"}}},
         true);
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 1);
    CHECK(shown[0].params.at("message") ==
          "TorchExam: cannot connect to torchexamd at /run/x.sock: No such file or directory");
    REQUIRE(replies.size() == 3);
    CHECK(json::parse(replies[1]).at("error").at("message") ==
          "cannot connect to torchexamd at /run/x.sock: No such file or directory");
    CHECK(json::parse(replies[2]).at("error").at("code") == -32603);
    CHECK(daemon.sent.empty());
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("server: a session started after the editor is found from its first notes") {
    const fs::path ws = "/home/ana/exam";
    FakeEndpoint editor, daemon;
    bool started = false;
    daemon.answer = [&](const std::string&, const json::value&) -> std::optional<Result> {
      if (!started) return Result(torchexam::protocol::RpcError(-32001, "no exam session; start one with: ..."));
      return Result(status_json(ws));
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    torchexam::protocol::Binder editor_methods, daemon_notes;
    server.bind_editor(editor_methods);
    server.bind_daemon(daemon_notes);
    dispatch(editor_methods, "initialize", init_params(ws, false, false), true);
    dispatch(editor_methods, "initialized", json::object{}, false);
    const auto asked = daemon.of("exam/status").size();
    started = true;
    const json::value timer{{"session", "s1"}, {"remaining_s", 1799.0}, {"warning_minutes", 30}};
    dispatch(daemon_notes, "exam/timer", timer, false);  // unknown yet: look it up
    CHECK(daemon.of("exam/status").size() == asked + 1);
    dispatch(daemon_notes, "exam/timer", timer, false);  // now ours
    CHECK(editor.of("window/showMessage").back().params.at("message") == "TorchExam: 30 minutes left in the exam");
    dispatch(daemon_notes, "exam/timer", json::value{{"session", "other"}, {"remaining_s", 5.0}}, false);
    CHECK(daemon.of("exam/status").size() == asked + 1);  // a known session: no more look-ups
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("server: a daemon reply of the wrong shape is shown with its method and field") {
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string&, const json::value&) -> std::optional<Result> {
      json::value st = status_json("/ws");
      st.as_object()["tasks"] = json::array{{{"id", 7}}};
      return Result(std::move(st));
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    start_editor(server, "/ws");
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 1);
    CHECK(shown[0].params.at("message") ==
          "TorchExam: torchexamd's reply to exam/status does not match the protocol: result.tasks[0].id: expected a "
          "string");
  }
}

TEST_SUITE("lsp") {
  TEST_CASE("reconnecting: at once, then a quarter second doubling to 5 s, until the window has passed") {
    using torchexam::Backoff;
    using ms = std::chrono::milliseconds;
    const auto lost = Backoff::Clock::time_point{} + std::chrono::hours(1);
    Backoff b(lost, std::chrono::seconds(20));
    auto now = lost;  // the first attempt is made at once, when the loss is seen
    std::vector<int64_t> pauses;
    for (;;) {
      CHECK(b.attempt_timeout(now, ms(10'000)) <= ms(10'000));
      CHECK(b.attempt_timeout(now, ms(10'000)) >= ms(100));
      now += ms(30);  // the attempt fails after 30 ms
      const auto pause = b.after_failure(now);
      if (!pause) break;
      pauses.push_back(pause->count());
      now += *pause;
    }
    CHECK(pauses == std::vector<int64_t>{250, 500, 1000, 2000, 4000, 5000, 5000});
    CHECK(now < lost + std::chrono::seconds(20));  // no attempt begins after the window
    CHECK(now + ms(5000) >= lost + std::chrono::seconds(20));
    // Near the end an attempt gets what is left, never less than 100 ms.
    CHECK(b.attempt_timeout(lost + ms(19'000), ms(10'000)) == ms(1000));
    CHECK(b.attempt_timeout(lost + ms(25'000), ms(10'000)) == ms(100));
    // A window of 0: the first failure ends it.
    Backoff none(lost, ms(0));
    CHECK_FALSE(none.after_failure(lost));
  }

  TEST_CASE("server: a lost connection to the proctored server fails requests clearly, keeps saves, and after the "
            "reconnect finds the session again and shows a grading that finished meanwhile") {
    const fs::path server_ws = "/srv/torchexam/state/candidates/ana";
    const fs::path local = fs::temp_directory_path() / "torchexam-lsp-unit-reconnect";
    fs::remove_all(local);
    fs::create_directories(local / "fashion_mnist");
    std::ofstream(local / "fashion_mnist/solution.cpp") << "// on disk\n";
    FakeEndpoint editor, daemon;
    std::string state = "running";
    daemon.answer = [&](const std::string& m, const json::value&) -> std::optional<Result> {
      if (m == "exam/status") return Result(status_json(server_ws));
      if (m == "task/save") return Result(json::value{{"source_sha256", std::string(64, 'a')}, {"bytes", 9}});
      if (m == "task/upload")
        return Result(json::value{
            {"submission", 12}, {"queue_position", 0}, {"source_sha256", std::string(64, 'b')}, {"bytes", 11}});
      if (m == "submission/get") {
        protocol::Submission s;
        s.submission = 12;
        s.session = "s1";
        s.task = "fashion_mnist";
        s.file = "solution.cpp";
        s.state = state == "finished" ? torchexam::SubmissionState::finished : torchexam::SubmissionState::running;
        if (state == "finished") {
          s.verdict = "ok";
          s.metric = 0.9;
          s.score = 5;
          s.message = "accuracy 0.900";
        }
        return Result(json::value_from(s));
      }
      return std::nullopt;
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    server.set_remote(local);
    torchexam::protocol::Binder editor_methods;
    server.bind_editor(editor_methods);
    auto send = [&](const char* method, json::value params, bool request) {
      return dispatch(editor_methods, method, std::move(params), request);
    };
    send("initialize", init_params(local, true, true), true);
    send("initialized", json::object{}, false);
    const std::string uri = file_uri(local / "fashion_mnist/solution.cpp");
    const json::value submitted =
        send("workspace/executeCommand", json::value{{"command", "torchexam.submit"}, {"arguments", {uri}}}, true);
    REQUIRE(submitted.at("result").at("submission") == 12);
    const size_t statuses = daemon.of("exam/status").size();

    // The connection drops: said once, and what the editor asks fails at once with the reason.
    const std::string lost = "lost the connection to the server 127.0.0.1:7443 (stream truncated); reconnecting...";
    server.connection_lost(lost);
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 1);
    CHECK(shown[0].params.at("message") == json::value("TorchExam: " + lost));
    CHECK(shown[0].params.at("type") == 2);
    const size_t asked = daemon.sent.size();
    const json::value status = send("workspace/executeCommand", json::value{{"command", "torchexam.status"}}, true);
    CHECK(status.at("error").at("message") == json::value(lost));
    const json::value lenses = send("textDocument/codeLens", json::value{{"textDocument", {{"uri", uri}}}}, true);
    CHECK(lenses.at("result").as_array().empty());
    // A save meanwhile is kept, the later of two for the same file.
    send("textDocument/didSave", json::value{{"textDocument", {{"uri", uri}}}, {"text", "int x = ;"}}, false);
    send("textDocument/didSave", json::value{{"textDocument", {{"uri", uri}}}, {"text", "int x = 1;"}}, false);
    CHECK(daemon.sent.size() == asked);                  // nothing reached the (absent) server
    CHECK(editor.of("window/showMessage").size() == 1);  // and nothing more was shown

    // Back: said, the session found again, the kept save sent, the grading
    // that finished meanwhile shown with its score.
    state = "finished";
    server.reconnected("reconnected to the server 127.0.0.1:7443");
    shown = editor.of("window/showMessage");
    REQUIRE(shown.size() >= 2);
    CHECK(shown[1].params.at("message") == "TorchExam: reconnected to the server 127.0.0.1:7443");
    CHECK(daemon.of("exam/status").size() > statuses);  // found again (and for the grading's lens, the save)
    CHECK_FALSE(editor.of("workspace/codeLens/refresh").empty());
    auto saves = daemon.of("task/save");
    REQUIRE(saves.size() == 1);
    CHECK(saves[0].params.at("source") == "int x = 1;");
    REQUIRE(shown.size() == 3);
    CHECK(std::string(shown[2].params.at("message").as_string()).rfind("fashion_mnist: 5/5 (ok)", 0) == 0);
    // Its own note, had it still been on its way, is not shown again.
    torchexam::protocol::Binder daemon_notes;
    server.bind_daemon(daemon_notes);
    dispatch(daemon_notes, "submission/finished",
             json::value{{"session", "s1"},
                         {"submission", 12},
                         {"task", "fashion_mnist"},
                         {"state", "finished"},
                         {"verdict", "ok"},
                         {"metric", 0.9},
                         {"score", 5},
                         {"message", "accuracy 0.900"}},
             false);
    CHECK(editor.of("window/showMessage").size() == 3);
    // Requests work again.
    const json::value again = send("workspace/executeCommand", json::value{{"command", "torchexam.status"}}, true);
    CHECK_FALSE(again.as_object().contains("error"));
    fs::remove_all(local);
  }

  TEST_CASE("server: a reconnect that is given up says why, and every request fails with it") {
    FakeEndpoint editor, daemon;
    daemon.answer = [&](const std::string& m, const json::value&) -> std::optional<Result> {
      if (m == "exam/status") return Result(status_json("/srv/ana"));
      return std::nullopt;
    };
    LspServer server(editor, daemon, "0.1.0", [](int) {});
    server.set_remote("/home/ana/exam");
    start_editor(server, "/home/ana/exam");
    server.connection_lost("lost the connection to the server h:1 (eof); reconnecting...");
    server.daemon_unavailable("the server h:1 refused the login: the token was revoked");
    auto shown = editor.of("window/showMessage");
    REQUIRE(shown.size() == 2);
    CHECK(shown[1].params.at("message") == "TorchExam: the server h:1 refused the login: the token was revoked");
    CHECK(shown[1].params.at("type") == 1);
  }
}
