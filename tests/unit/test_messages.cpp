// The protocol's messages, typed both ways: every param, result and
// notification survives value_from -> value_to unchanged, the wire keeps
// the shapes docs/protocol.md shows, and a reply or params of the wrong
// shape gets an error that names the method and the field.
#include <doctest/doctest.h>

#include "base/base64.hpp"
#include "grading/grader.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "sandbox/text.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

namespace json = boost::json;
namespace protocol = torchexam::protocol;
namespace rpc = torchexam::protocol::rpc;
using namespace torchexam;

namespace {

template <class T>
void round_trip(const T& x) {
  const json::value v = json::value_from(x);
  CAPTURE(json::serialize(v));
  CHECK(json::value_to<T>(v) == x);
  // And through the text, as the wire carries it.
  CHECK(json::value_to<T>(json::parse(json::serialize(v))) == x);
}

Diagnostic diagnostic(int line) { return {"error", "/ws/t/solution.cpp", line, 5, "expected ';' before 'out'"}; }

TaskSummary task() {
  return {"fashion_mnist", "Fashion-MNIST", "accuracy", {0.78, 0.82, 0.85, 0.89, 0.91}, 600, "/ws/fashion_mnist", 3, 1,
          "ok",            2,               {diagnostic(10), diagnostic(0)}, std::nullopt};
}

doctor::CheckResult check() { return {"compiler", doctor::Status::warn, "g++ 12", "g++ 13", "apt install g++-13"}; }

doctor::Forecast forecast() {
  doctor::Forecast f;
  f.task = "fashion_mnist";
  f.samples_per_s = 7400.5;
  f.reference_s = 70;
  f.measured_s = 5;
  f.budget_s = 600;
  f.exam_s = 18000;
  f.threads = 2;
  f.measured_at_ms = 1772445600000;
  f.load_before = 0.5;
  f.steal = 0.01;
  f.cpus = 2;
  return f;
}

GradeRecord grade_record() {
  GradeRecord r;
  auto& g = r.grade;
  g.verdict = Verdict::ok;
  g.backend = "local";
  g.score = 3;
  g.metric_name = "accuracy";
  g.metric = 0.8558;
  g.message = "accuracy 0.8558 on the hidden test data: score 3/5";
  g.detail = "more";
  g.diagnostics = {diagnostic(8)};
  g.build_cached = true;
  g.timings = {0.002, 6.4, 2.7, 1.2, 0.03, 10.4};
  g.job_dir = "/state/jobs/1-1";
  g.log = {"staged 60000 samples"};
  g.output = {{"train", "/state/jobs/1-1/train/output.log", 120}};
  g.used = {5.31, 689412, 1u << 30};
  g.sandbox = {{"namespaces", "seccomp"}, {"no cgroup"}, {600, 1200, 2u << 30, 64}};
  r.artifacts = {{"checkpoint", "d440e5"}, {"train_log", "d6ba2b"}};
  return r;
}

TaskDiagnostics classification_diagnostics() {
  ClassificationDiagnostics c;
  c.accuracy = 0.9;
  c.classes = {"ham", "spam"};
  c.confusion = {{90, 10}, {10, 90}};
  c.per_class = {{"ham", 0.9, 0.9, 0.9, 100}, {"spam", 0.9, 0.9, 0.9, 100}};
  return {"classification", c, std::nullopt, std::nullopt};
}

Fingerprint fingerprint() {
  Fingerprint f;
  f.harness_version = "0.9.0";
  f.source_sha256 = "a4c123";
  f.seed = 42;
  f.threads = 2;
  f.deterministic = true;
  f.libtorch = {"1.13.1", true, "OpenMP"};
  f.blas = {"/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", "0.3.21"};
  f.compiler = {"GNU", "12.2.0", {"-O2", "-std=c++17"}};
  f.plugin = {"5e1f", 2};
  f.task_sha256 = "77ab";
  f.task = {{0.78, 0.82, 0.85}, true, 600, 4ull << 30, "0c7e"};
  f.data = {{"fashion_mnist", "c0ffee"}};
  f.sandbox_layers = {"pid namespace", "seccomp"};
  return f;
}

protocol::SubmissionInfo submission_info() {
  return {1,  "3f9c2a71b0e4", "fashion_mnist", "solution.cpp", "a4c123", 1772446050112, SubmissionState::finished, -1, "ok", 0.8558,
          3,  "accuracy 0.8558", "",            1772446060530, 1, std::nullopt, {}};
}

events::Progress training() {
  events::Progress p;
  p.kind = events::Progress::Kind::epoch;
  p.epoch = 2;
  p.epochs = 3;
  p.batch = 469;
  p.batches = 469;
  p.loss = 0.4127;
  p.metrics = {{"train_accuracy", 0.8512}};
  p.samples_per_s = 74010.1;
  p.eta_s = 0.866;
  p.budget_left_s = 598.2;
  p.elapsed_s = 1.7;
  return p;
}

// The message of the error `f` throws, as E.
template <class E, class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_SUITE("messages") {
  TEST_CASE("every params type survives the round trip") {
    round_trip(protocol::StartParams{"/env", "/ws", "exam", std::nullopt, true});
    round_trip(protocol::StartParams{"/env", "/ws", "practice", 5400.0, false});
    round_trip(protocol::SessionParams{"3f9c2a71b0e4", ""});
    round_trip(protocol::SessionParams{"", "/ws/fashion_mnist"});
    round_trip(protocol::SubmitParams{"", "/ws", "fashion_mnist", "model.pt"});
    round_trip(protocol::SubmissionListParams{"s", "", "fashion_mnist"});
    round_trip(protocol::SubmissionParams{7, true});
    round_trip(protocol::VerifyParams{"/env"});
    round_trip(protocol::Empty{});
  }

  TEST_CASE("every result survives the round trip") {
    protocol::ExamStatus st{"3f9c2a71b0e4", "/env", "/ws", "practice", SessionState::running, 1772445600000, 1772463600000,
                            17999.59,       {task(), task()}, {{2, "fashion_mnist", SubmissionState::running, 0}, {3, "t", SubmissionState::queued, 1}},
                            3,              3, true, {check()}};
    round_trip(st);
    round_trip(protocol::TaskList{{task()}});
    round_trip(protocol::Submitted{4, 1});
    round_trip(protocol::SubmissionList{{submission_info(), protocol::SubmissionInfo{}}});
    round_trip(protocol::Cancelled{true});
    round_trip(RestoreResult{"/ws/t/solution.cpp", "09ec44", "/ws/t/.torchexam/solution.cpp.1"});
    round_trip(VerifyReport{"/env", {check()}, {forecast()}, true});
    round_trip(protocol::DaemonStatus{48211, "0.1.0", "/run/user/1000/torchexam/daemon.sock", "/state", 1});

    protocol::Submission s;
    static_cast<protocol::SubmissionInfo&>(s) = submission_info();
    s.result = grade_record();
    s.curve = std::vector<CurvePoint>{{1, 0.6, 0.9, {{"train_accuracy", 0.7}}}, {2, 0.41, 1.7, {}}};
    round_trip(s);
    s.with_source = true;
    s.source = "int main() {}\n";
    round_trip(s);
    s.source.reset();  // a TorchScript model: not text
    round_trip(s);
    s.result.reset();  // a finished submission whose stored result does not read
    s.curve.reset();
    round_trip(s);
    s.state = SubmissionState::queued;  // not graded yet
    round_trip(s);
  }

  TEST_CASE("every notification survives the round trip") {
    round_trip(ProgressNote{"s", 1, "fashion_mnist", Stage::queued, 1, std::nullopt});
    round_trip(ProgressNote{"s", 1, "fashion_mnist", Stage::train, 0, training()});
    round_trip(protocol::Finished{"s", 1, "fashion_mnist", SubmissionState::finished, "ok", 0.8558, 3, "accuracy 0.8558"});
    round_trip(protocol::Finished{"s", 3, "fashion_mnist", SubmissionState::cancelled, std::nullopt, std::nullopt, 0, "cancelled"});
    round_trip(protocol::Timer{"s", 1799.65, 30});
    round_trip(protocol::Timer{"s", 17939.588, std::nullopt});
    round_trip(protocol::Closed{"s", 1772464800250, SessionState::closed, std::nullopt});
    round_trip(protocol::SyntaxCheck{"s", "fashion_mnist", "/ws/fashion_mnist/solution.cpp", {diagnostic(10)}});
  }

  TEST_CASE("the core's stored and printed shapes survive the round trip") {
    round_trip(diagnostic(3));
    round_trip(grade_record());
    round_trip(grade_record().grade);
    GradeRecord with_more = grade_record();
    with_more.grade.task_diagnostics = classification_diagnostics();
    with_more.grade.fingerprint = fingerprint();
    round_trip(with_more);
    // Listings carry the grading's fingerprint: history (submission/list) and status.
    auto listed = submission_info();
    listed.fingerprint = fingerprint();
    round_trip(protocol::SubmissionList{{listed}});
    // ... and every judging of it, each with its own (docs/rejudging.md).
    Fingerprint before = fingerprint();
    before.task.ladder = {0.78, 0.82, 0.80};
    listed.judgings = {{1, false, std::nullopt, "ok", 0.8558, 3, 1772446060530, before},
                       {4, false, 2, "internal_error", std::nullopt, 0, 1772450000000, std::nullopt},
                       {6, true, 3, "ok", 0.8558, 4, std::nullopt, fingerprint()}};
    round_trip(protocol::SubmissionList{{listed}});
    protocol::Submission got;
    static_cast<protocol::SubmissionInfo&>(got) = listed;
    got.result = grade_record();
    round_trip(got);
    auto summary = task();
    summary.fingerprint = fingerprint();
    round_trip(protocol::TaskList{{summary}});
    round_trip(TaskDiagnostics{"regression", std::nullopt,
                               RegressionDiagnostics{{{9, 13, 8, 2.1}, {13, 17, 8, 1.5}}, {{-2, 0, 2}, {7, 9}}},
                               std::nullopt});
    round_trip(TaskDiagnostics{"forecast", std::nullopt, std::nullopt,
                               ForecastDiagnostics{"week", {0.3, 0.35, 0.4}, {{-1, 0, 1}, {20, 22}}}});
    round_trip(CurvePoint{3, 0.25, 4.5, {{"val_accuracy", 0.9}, {"train_accuracy", 0.95}}});
    round_trip(check());
    round_trip(forecast());
  }

  TEST_CASE("task diagnostics hold aggregates of a consistent shape only") {
    const auto refusal = [](const char* text) {
      return error_of<json_shape::ShapeError>([&] { boost::json::value_to<TaskDiagnostics>(boost::json::parse(text)); });
    };
    // A confusion matrix that is not classes x classes.
    CHECK(refusal(R"({"kind":"classification","classification":{"accuracy":1,"classes":["a","b"],)"
                  R"("confusion":[[1,0]],"per_class":[]}})") ==
          ".classification.confusion: 1 rows for 2 classes (one row per true class)");
    // A list as long as a label vector is refused.
    std::string long_list = "[0";
    for (int i = 1; i <= 300; ++i) long_list += ",0";
    long_list += "]";
    const std::string forecast =
        R"({"kind":"forecast","forecast":{"step_unit":"week","mae_per_step":)" + long_list +
        R"(,"residuals":{"edges":[0,1],"counts":[1]}}})";
    CHECK(refusal(forecast.c_str()).find("more than the 256 a diagnostic may hold") != std::string::npos);
    CHECK(refusal(R"({"kind":"regression","regression":{"by_target_range":[],"residuals":{"edges":[0,1],"counts":[1,2]}}})") ==
          ".regression.residuals.counts: 2 counts for 2 edges (a histogram has one count fewer than edges, and at least two edges)");
    CHECK(refusal(R"({"kind":"votes"})").find("'votes' is not a kind") != std::string::npos);
    CHECK(refusal(R"({"kind":"forecast","forecast":{"step_unit":"week","mae_per_step":[],"residuals":{"edges":[0,1],"counts":[1]}},)"
                  R"("regression":{"by_target_range":[],"residuals":{"edges":[0,1],"counts":[1]}}})")
              .find("holds more than the one section") != std::string::npos);
  }

  TEST_CASE("the wire keeps the documented shapes") {
    // The CLI sends only what it sets.
    CHECK(json::serialize(json::value_from(protocol::SessionParams{"", "/ws/t"})) == R"({"workspace":"/ws/t"})");
    CHECK(json::serialize(json::value_from(protocol::SubmitParams{"", "/ws/t", "t", "solution.cpp"})) ==
          R"({"workspace":"/ws/t","task":"t","file":"solution.cpp"})");
    CHECK(json::serialize(json::value_from(protocol::SubmissionParams{1, false})) == R"({"submission":1})");
    CHECK(json::serialize(json::value_from(protocol::StartParams{"/e", "/w", "practice", std::nullopt, false})) ==
          R"({"environment":"/e","workspace":"/w","mode":"practice","overwrite":false})");
    CHECK(json::serialize(json::value_from(protocol::Timer{"3f9c2a71b0e4", 1799.65, 30})) ==
          R"({"session":"3f9c2a71b0e4","remaining_s":1.79965E3,"warning_minutes":30})");
    CHECK(json::serialize(json::value_from(protocol::Finished{"s", 3, "t", SubmissionState::cancelled, std::nullopt, std::nullopt, 0,
                                                              "cancelled"})) ==
          R"({"session":"s","submission":3,"task":"t","state":"cancelled","verdict":null,"metric":null,"score":0,"message":"cancelled"})");
    // A list item has no result, curve or source; submission/get has them.
    const json::value info = json::value_from(submission_info());
    CHECK_FALSE(info.as_object().contains("result"));
    CHECK_FALSE(info.as_object().contains("curve"));
    // Its judgings: always sent ([] before grading); a reply without them
    // (an older daemon) reads as none.
    CHECK(info.at("judgings") == json::array());
    json::value older = info;
    older.as_object().erase("judgings");
    CHECK(protocol::read_result(rpc::submission_get, older).judgings.empty());
    auto regraded = submission_info();
    regraded.judgings = {{1, false, std::nullopt, "ok", 0.8558, 3, 1772446060530, std::nullopt},
                         {2, true, 1, "ok", 0.8558, 4, 1772450000000, std::nullopt}};
    CHECK(json::serialize(json::value_from(regraded).at("judgings")) ==
          R"([{"judging":1,"live":false,"rejudge":null,"verdict":"ok","metric":8.558E-1,"score":3,)"
          R"("finished_at_ms":1772446060530,"fingerprint":null},)"
          R"({"judging":2,"live":true,"rejudge":1,"verdict":"ok","metric":8.558E-1,"score":4,)"
          R"("finished_at_ms":1772450000000,"fingerprint":null}])");
    protocol::Submission queued;
    queued.state = SubmissionState::queued;
    const json::value q = json::value_from(queued);
    CHECK(q.at("result") == json::object());
    CHECK(q.at("curve") == json::array());
    CHECK_FALSE(q.as_object().contains("source"));
    protocol::Submission unreadable;
    unreadable.state = SubmissionState::finished;
    unreadable.curve.reset();
    unreadable.with_source = true;
    const json::value u = json::value_from(unreadable);
    CHECK(u.at("result").is_null());
    CHECK(u.at("curve").is_null());
    CHECK(u.at("source").is_null());
    // A non-finite number is null (Boost.JSON would write NaN, which no client parses) and NaN again.
    auto p = training();
    p.loss = std::numeric_limits<double>::quiet_NaN();
    p.metrics["x"] = std::numeric_limits<double>::infinity();
    const json::value note = json::value_from(ProgressNote{"s", 1, "t", Stage::train, 0, p});
    CHECK(note.at("loss").is_null());
    CHECK(note.at("metrics").at("x").is_null());
    const auto back = json::value_to<ProgressNote>(note);
    CHECK(std::isnan(back.progress->loss));
    CHECK(std::isnan(back.progress->metrics.at("x")));
  }

  TEST_CASE("the rejudge/ messages survive the round trip and keep the documented shape") {
    round_trip(protocol::RejudgeCreateParams{RejudgeKind::rescore, 0, "s", "", "", "regression", "ladder"});
    round_trip(protocol::RejudgeCreateParams{RejudgeKind::retrain, 0, "", "", "/envs/practice", "", ""});
    round_trip(protocol::RejudgeCreateParams{RejudgeKind::retrain, 7, "", "", "", "", ""});
    round_trip(protocol::RejudgeParams{3});
    round_trip(RejudgeProgress{3, RejudgeState::review, 2, 2});
    RejudgeSet set;
    set.id = 3;
    set.kind = RejudgeKind::rescore;
    set.selection = {0, "s", "", "regression"};
    set.state = RejudgeState::review;
    set.created_at_ms = 1772450000000;
    set.reason = "ladder";
    set.done = 1;
    set.changed = 1;
    DeltaRow done;
    done.submission = 4;
    done.session = "s";
    done.task = "regression";
    done.state = RejudgeItemState::done;
    done.before = {std::string("ok"), 1.58, 5};
    done.after = JudgingOutcome{std::string("ok"), 1.58, 4};
    done.delta_score = -1;
    done.reasons = {"ladder changed from [4, 3, 2.5, 2.1, 1.85] to [4, 3, 2.5, 2.1, 1.5]"};
    DeltaRow queued = done;
    queued.submission = 5;
    queued.state = RejudgeItemState::queued;
    queued.before = {std::string("compile_error"), std::nullopt, 0};
    queued.after.reset();
    queued.delta_score = 0;
    queued.reasons.clear();
    set.rows = {done, queued};
    round_trip(set);
    const json::value v = json::value_from(set);
    CHECK(v.at("total") == 2);
    CHECK(v.at("rows").at(0).at("old").at("score") == 5);
    CHECK(v.at("rows").at(0).at("new").at("score") == 4);
    CHECK(v.at("rows").at(1).at("new").is_null());
    CHECK(v.at("selection") == json::parse(R"({"session":"s","task":"regression"})"));
    // Text from a command line or a harness message leaves as valid UTF-8.
    set.reason = "bad \xff byte";
    set.rows[0].reasons = {"plugin /opt/\xfe/x.so failed"};
    CHECK(is_valid_utf8(json::serialize(json::value_from(set))));
    // Params: unknown fields and unknown kinds are refused, naming them.
    CHECK_THROWS_WITH_AS(protocol::read_params<protocol::RejudgeCreateParams>(json::parse(R"({"kind":"again"})")),
                         doctest::Contains("kind: expected one of rescore, retrain (got 'again')"), protocol::RpcError);
    CHECK_THROWS_WITH_AS(protocol::read_params<protocol::RejudgeParams>(json::parse(R"({"rejudge":1,"set":2})")),
                         doctest::Contains("unknown field 'set'"), protocol::RpcError);
  }

  TEST_CASE("params of the wrong shape: invalid_params naming the field, unknown fields first") {
    auto message = [](auto read) { return error_of<protocol::RpcError>(read); };
    CHECK(message([] { protocol::read_params<protocol::SessionParams>(json::value{{"sesion", "x"}}); }) ==
          "params: unknown field 'sesion' (known: session, workspace)");
    CHECK(message([] { protocol::read_params<protocol::StartParams>(json::value{{"workspace", "/w"}}); }) ==
          "params.environment: missing (a string is required)");
    CHECK(message([] {
            protocol::read_params<protocol::StartParams>(
                json::parse(R"({"environment":"/e","workspace":"/w","duration_s":1e400})"));
          }) == "params.duration_s: expected a finite number");
    CHECK(message([] { protocol::read_params<protocol::SubmitParams>(json::value{{"task", 5}}); }) ==
          "params.task: expected a string");
    CHECK(message([] { protocol::read_params<protocol::SubmissionParams>(json::object()); }) ==
          "params.submission: missing (an integer is required)");
    CHECK(message([] {
            protocol::read_params<protocol::SubmissionParams>(json::value{{"submission", 1}, {"include_source", 1}});
          }) == "params.include_source: expected true or false");
    CHECK(message([] { protocol::read_params<protocol::SessionParams>(json::array{"x"}); }) ==
          "params: expected an object");
    CHECK(message([] { protocol::read_params<protocol::Empty>(json::value{{"x", 1}}); }) ==
          "params: unknown field 'x' (known: none)");
    // null counts as absent.
    CHECK(protocol::read_params<protocol::SubmitParams>(json::value{{"task", "t"}, {"file", nullptr}}).file ==
          "solution.cpp");
    try {
      protocol::read_params<protocol::SessionParams>(json::value{{"session", 1}});
      FAIL("no error");
    } catch (const protocol::RpcError& e) {
      CHECK(e.code == protocol::error_code::invalid_params);
    }
  }

  TEST_CASE("task/upload: a model's bytes travel as source_base64, a source's text as source; base64 read strictly") {
    // OpenSSL's base64, both ways, with RFC 4648's vectors.
    for (const auto& [bytes, text] : std::vector<std::pair<std::string, std::string>>{
             {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}}) {
      CHECK(base64_encode(bytes) == text);
      CHECK(base64_decode(text) == bytes);
    }
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    CHECK(base64_decode(base64_encode(all + all + "x")) == all + all + "x");
    CHECK(base64_size(3) == 4);
    CHECK(base64_size(protocol::kMaxModelBytes) == size_t{8} << 20);
    auto bad = [](const std::string& text) { return error_of<std::invalid_argument>([&] { base64_decode(text); }); };
    CHECK(bad("Zm9") == "its length, 3, is not a multiple of 4");
    CHECK(bad("Zm!v") == "'!' at offset 2 is not a base64 character");
    CHECK(bad("Zm9v\nZg==") == "its length, 9, is not a multiple of 4");
    CHECK(bad("Zm 9v") == "its length, 5, is not a multiple of 4");
    CHECK(bad("Zm9vZ v=") == "' ' at offset 5 is not a base64 character");
    CHECK(bad("Z=9v") == "'=' at offset 1 is padding before the end");
    CHECK(bad("Zm=v") == "'=' at offset 2 is padding before the end");
    CHECK(bad("Z===") == "'=' at offset 1 is padding before the end");
    CHECK(bad(std::string("Zm\xff""v")) == "byte 0xff at offset 2 is not a base64 character");

    // The params: the name says how the bytes travel.
    CHECK(protocol::is_model_file("model.pt"));
    CHECK(protocol::is_model_file("weights.pth"));
    CHECK_FALSE(protocol::is_model_file("solution.cpp"));
    CHECK_FALSE(protocol::is_model_file("model.pt.cpp"));
    for (const char* name : {"model.pt", "m.pth", "solution.cpp", "model.pt.cpp", "pt", ".pt", "model.PT", "a.ptx"})
      CHECK_MESSAGE(protocol::is_model_file(name) == is_torchscript(name), name);  // as the grader takes them
    const char raw[] = "PK\x03\x04\x00\xff\xfe binary";  // not UTF-8, and a NUL
    const std::string model(raw, sizeof raw - 1);
    const protocol::UploadParams up{"", "", "fashion_mnist", "model.pt", model};
    const json::value v = json::value_from(up);
    CHECK(v.as_object().at("source_base64") == json::value(base64_encode(model)));
    CHECK_FALSE(v.as_object().contains("source"));
    round_trip(up);
    round_trip(protocol::UploadParams{"s", "/w", "fashion_mnist", "solution.cpp", "int main() {}\n"});
    CHECK(json::value_from(protocol::UploadParams{"", "", "t", "solution.cpp", "x"}).as_object().contains("source"));

    auto message = [](json::value params) {
      return error_of<protocol::RpcError>([&] { protocol::read_params<protocol::UploadParams>(params); });
    };
    const std::string both_or_neither =
        "params: give exactly one of source (a source file's text) and source_base64 (a TorchScript model's bytes, "
        "for a file name ending in .pt or .pth)";
    CHECK(message({{"task", "t"}, {"file", "model.pt"}}) == both_or_neither);
    CHECK(message({{"task", "t"}, {"file", "model.pt"}, {"source", "x"}, {"source_base64", "eA=="}}) ==
          both_or_neither);
    CHECK(message({{"task", "t"}, {"file", "model.pt"}, {"source", "x"}}) ==
          "params.source: model.pt is a TorchScript model: send its bytes as source_base64");
    CHECK(message({{"task", "t"}, {"source_base64", "eA=="}}) ==
          "params.source_base64: only a TorchScript model (a file name ending in .pt or .pth) travels as base64; "
          "send solution.cpp's text as source");
    CHECK(message({{"task", "t"}, {"file", "model.pt"}, {"source_base64", "eA="}}) ==
          "params.source_base64: not base64 (its length, 3, is not a multiple of 4); nothing was changed");
    CHECK(message({{"task", "t"}, {"file", "model.pth"}, {"source_base64", "e*=="}}) ==
          "params.source_base64: not base64 ('*' at offset 1 is not a base64 character); nothing was changed");
    CHECK(message({{"task", "t"}, {"file", "model.pt"}, {"source_base64", 5}}) ==
          "params.source_base64: expected a string");
    CHECK(protocol::read_params<protocol::UploadParams>(
              json::value{{"task", "t"}, {"file", "model.pt"}, {"source_base64", "eA=="}})
              .source == "x");
  }

  TEST_CASE("a reply or notification of the wrong shape names the method and the field") {
    auto message = [](auto read) { return error_of<protocol::ReplyError>(read); };
    json::value st = json::value_from(protocol::ExamStatus{"s", "/e", "/w", "practice", SessionState::running, 0, 0, 1.0, {task()}, {}, 0, 0, false, {}});
    st.at("tasks").at(0).as_object()["best_score"] = "3";
    CHECK(message([&] { protocol::read_result(rpc::exam_status, st); }) ==
          "torchexamd's reply to exam/status does not match the protocol: result.tasks[0].best_score: expected an "
          "integer");
    st.as_object().erase("remaining_s");
    CHECK(message([&] { protocol::read_result(rpc::exam_pause, st); }) ==
          "torchexamd's reply to exam/pause does not match the protocol: result.remaining_s: missing (a finite number "
          "is required)");
    CHECK(message([] { protocol::read_result(rpc::task_submit, json::value("ok")); }) ==
          "torchexamd's reply to task/submit does not match the protocol: result: expected an object");
    json::value s = json::value_from(protocol::Submission{});
    s.as_object()["result"] = json::value{{"verdict", "fine"}};
    CHECK(message([&] { protocol::read_result(rpc::submission_get, s); }) ==
          "torchexamd's reply to submission/get does not match the protocol: result.result.verdict: expected a verdict "
          "(ok, compile_error, runtime_error, ...)");
    CHECK(message([] { protocol::read_note(rpc::exam_timer, json::value{{"session", 5}}); }) ==
          "torchexamd's exam/timer notification does not match the protocol: params.session: expected a string");
    json::value note = json::value_from(ProgressNote{"s", 1, "t", Stage::train, 0, training()});
    note.as_object()["metrics"] = json::value{{"acc", "high"}};
    CHECK(message([&] { protocol::read_note(rpc::submission_progress, note); }) ==
          "torchexamd's submission/progress notification does not match the protocol: params.metrics.acc: expected a "
          "finite number");
    // States and stages are read by their names; another name is an error naming the field.
    json::value finished = json::value_from(protocol::Finished{});
    finished.as_object()["state"] = "done";
    CHECK(message([&] { protocol::read_note(rpc::submission_finished, finished); }) ==
          "torchexamd's submission/finished notification does not match the protocol: params.state: expected one of "
          "queued, running, finished, cancelled, interrupted (got 'done')");
    note.as_object().erase("metrics");
    note.as_object()["stage"] = 3;
    CHECK(message([&] { protocol::read_note(rpc::submission_progress, note); }) ==
          "torchexamd's submission/progress notification does not match the protocol: params.stage: expected a string");
    note.as_object()["stage"] = "compile";
    CHECK(message([&] { protocol::read_note(rpc::submission_progress, note); }) ==
          "torchexamd's submission/progress notification does not match the protocol: params.stage: expected one of "
          "queued, stage, build, train, evaluate, score (got 'compile')");
    json::value closed = json::value_from(protocol::Closed{});
    closed.as_object().erase("state");
    CHECK(message([&] { protocol::read_note(rpc::exam_closed, closed); }) ==
          "torchexamd's exam/closed notification does not match the protocol: params.state: missing (a string is "
          "required)");
    json::value status = json::value_from(protocol::ExamStatus{});
    status.as_object()["queue"] = json::array{{{"submission", 1}, {"task", "t"}, {"state", "finished"}, {"position", 0}}};
    CHECK(protocol::read_result(rpc::exam_status, status).queue[0].state == SubmissionState::finished);
    status.as_object()["state"] = "over";
    CHECK(message([&] { protocol::read_result(rpc::exam_status, status); }) ==
          "torchexamd's reply to exam/status does not match the protocol: result.state: expected one of running, "
          "paused, closed, stopped (got 'over')");
    // A judging of the wrong shape is named inside its submission.
    json::value listed = json::value_from(protocol::SubmissionList{{submission_info()}});
    listed.at("submissions").at(0).as_object()["judgings"] =
        json::array{json::object{{"judging", 1}, {"live", "yes"}, {"score", 3}}};
    CHECK(message([&] { protocol::read_result(rpc::submission_list, listed); }) ==
          "torchexamd's reply to submission/list does not match the protocol: result.submissions[0].judgings[0].live: "
          "expected true or false");
    // Fields a newer daemon adds are not an error in a reply.
    json::value more = json::value_from(protocol::Submitted{1, 0});
    more.as_object()["eta_s"] = 3;
    CHECK(protocol::read_result(rpc::task_submit, more) == protocol::Submitted{1, 0});
  }
}
