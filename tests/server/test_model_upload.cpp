// A TorchScript model uploaded to the proctored server (task/upload with
// source_base64, docs/server.md): graded over TLS as the same model is
// graded locally; refusals of corrupt base64, an oversized model, base64
// for a source's name and a model sent as text, each changing nothing; a
// .pt that is no TorchScript archive graded with a clear verdict; the CLI's
// own checks. Models come from tests/tools/make_torchscript. Each case is a
// CTest test of its own (tests/CMakeLists.txt); without the CA it exits 77.
#include <doctest/doctest.h>

#include "base/base64.hpp"
#include "base/hash.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "sandbox/text.hpp"
#include "server_util.hpp"
#include "store/audit_log.hpp"

#include <fmt/format.h>

#include <fstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::test;

namespace {

// make_torchscript KIND OUT: a model for the fashion_mnist contract.
fs::path make_model(const char* kind, const fs::path& out) {
  fs::create_directories(out.parent_path());
  ProcessSpec spec;
  spec.exe = TORCHEXAM_MAKE_TORCHSCRIPT;
  spec.args = {kind, out.string()};
  spec.stderr_file = out.string() + ".stderr";
  REQUIRE(system_launcher().run(spec, [](std::string_view) {}).exit_code == 0);
  return out;
}

bool audited(const fs::path& state, const std::string& event, const std::string& needle) {
  for (const auto& r : store::AuditLog(state).records())
    if (r.event == event && (r.who + " " + r.method + " " + r.detail).find(needle) != std::string::npos) return true;
  return false;
}

// The finished submission `id`: at once, or after its submission/finished
// note (polling would spend the candidate's request rate).
protocol::Submission finished(Client& c, int64_t id) {
  auto sub = c.call(protocol::rpc::submission_get, protocol::SubmissionParams{id, false});
  if (sub.state == SubmissionState::finished) return sub;
  REQUIRE(await(
      c,
      [&](const Notification& n) {
        return n.method == "submission/finished" && field_int(n.params, "submission") == id;
      },
      std::chrono::seconds(240)));
  return c.call(protocol::rpc::submission_get, protocol::SubmissionParams{id, false});
}

}  // namespace

TEST_SUITE("server") {
  TEST_CASE("server: a TorchScript model uploaded over TLS is graded as the same model is graded locally") {
    Server s("model");
    Candidate ana(s, "ana", kTinyEnv);
    const fs::path model = make_model("good", ana.home / "models/model.pt");
    const std::string bytes = slurp(model);
    REQUIRE_FALSE(is_valid_utf8(bytes));  // what a JSON string could not carry

    auto a = s.login(slurp(ana.token).substr(0, slurp(ana.token).find('\n')));
    a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});

    // The CLI uploads the file's bytes and shows the grading.
    auto [rc, out] = ana.cli(ana.home, ana.flags({"submit", "fashion_mnist", "--file", model.string(), "--wait"}));
    CAPTURE(out);
    CHECK(rc == 0);
    CHECK(out.find(fmt::format("uploaded {} ({} bytes, sha256 {})", model.string(), bytes.size(), sha256_hex(bytes))) !=
          std::string::npos);
    CHECK(out.find("verdict: ok") != std::string::npos);
    // Written into the candidate's task folder on the server, byte for byte, and audited by its hash.
    CHECK(slurp(s.d.state / "candidates/ana/fashion_mnist/model.pt") == bytes);
    CHECK(audited(s.d.state, "call",
                  fmt::format("file model.pt, {} bytes, source sha256 {}", bytes.size(), sha256_hex(bytes))));

    const auto list = a->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions;
    REQUIRE(list.size() == 1);
    const auto sub = finished(*a, list[0].submission);
    CHECK(sub.file == "model.pt");
    CHECK(sub.verdict == std::optional<std::string>("ok"));
    REQUIRE(sub.metric);

    // The same file graded on this machine: the same metric and score.
    ProcessSpec local;
    local.exe = TORCHEXAM_CLI;
    local.args = {"grade", kTinyEnv.string(), "fashion_mnist", model.string(), "--json"};
    local.stderr_file = ana.home / "grade.stderr";
    std::string json_out;
    REQUIRE(system_launcher().run(local, [&](std::string_view t) { json_out += t; }).exit_code == 0);
    CAPTURE(json_out);
    const json::object graded = json::parse(json_out).as_object();
    CHECK(graded.at("verdict").as_string() == "ok");
    CHECK(graded.at("score").to_number<int>() == sub.score);
    CHECK(graded.at("metric").to_number<double>() == doctest::Approx(*sub.metric));

    // A .pt whose bytes are no TorchScript archive: graded, with a verdict that says so; the server stays up.
    const std::string junk = "this is not a TorchScript archive\n";
    const auto up =
        a->call(protocol::rpc::task_upload, protocol::UploadParams{"", "", "fashion_mnist", "junk.pt", junk});
    CHECK(up.bytes == static_cast<int64_t>(junk.size()));
    CHECK(up.source_sha256 == sha256_hex(junk));
    const auto bad = finished(*a, up.submission);
    CHECK(bad.verdict == std::optional<std::string>("runtime_error"));
    CHECK_MESSAGE(bad.message.find("cannot load the TorchScript model") != std::string::npos, bad.message);
    CHECK(a->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions.size() == 2);
  }

  TEST_CASE("server: corrupt base64 and oversized or misnamed models are refused with why and change nothing") {
    Server s("model-refused", {"--max-submissions-per-minute", "1"});
    Candidate ana(s, "ana", kTinyEnv);
    auto a = s.login(slurp(ana.token).substr(0, slurp(ana.token).find('\n')));
    a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    const fs::path folder = s.d.state / "candidates/ana/fashion_mnist";
    const std::string starter = slurp(folder / "solution.cpp");
    auto count = [&] {
      return a->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions.size();
    };
    auto refused = [&](json::object params) {
      const auto e = refusal(*a, "task/upload", std::move(params));
      CHECK(e.code == protocol::error_code::invalid_params);
      return std::string(e.what());
    };

    CHECK(refused({{"task", "fashion_mnist"}, {"file", "model.pt"}, {"source_base64", "UEsD!A=="}}) ==
          "params.source_base64: not base64 ('!' at offset 4 is not a base64 character); nothing was changed");
    CHECK(refused({{"task", "fashion_mnist"}, {"file", "model.pt"}, {"source_base64", "UEsDB"}}) ==
          "params.source_base64: not base64 (its length, 5, is not a multiple of 4); nothing was changed");
    CHECK(refused({{"task", "fashion_mnist"}, {"file", "solution.cpp"}, {"source_base64", base64_encode("int x;")}}) ==
          "params.source_base64: only a TorchScript model (a file name ending in .pt or .pth) travels as base64; "
          "send solution.cpp's text as source");
    CHECK(refused({{"task", "fashion_mnist"}, {"file", "model.pt"}, {"source", "PK"}}) ==
          "params.source: model.pt is a TorchScript model: send its bytes as source_base64");
    // One over the cap: a frame of 8 MiB and more, read whole and refused with the cap and the size.
    const auto big = protocol::UploadParams{"", "", "fashion_mnist", "model.pt",
                                            std::string(protocol::kMaxModelBytes + 1, '\x01')};
    try {
      a->call(protocol::rpc::task_upload, big);
      FAIL("an oversized model was taken");
    } catch (const protocol::RpcError& e) {
      CHECK(e.code == protocol::error_code::invalid_params);
      CHECK(std::string(e.what()) ==
            fmt::format("the model is {} bytes, over the server's limit of {} bytes (6 MiB) for a TorchScript model; "
                        "nothing was submitted",
                        protocol::kMaxModelBytes + 1, protocol::kMaxModelBytes));
    }
    CHECK(count() == 0);
    CHECK_FALSE(fs::exists(folder / "model.pt"));
    CHECK(slurp(folder / "solution.cpp") == starter);
    CHECK(audited(s.d.state, "call", "params do not read: params.source_base64: not base64"));

    // The CLI checks before it sends: a model over the cap, and a source that is not UTF-8.
    const fs::path huge = ana.home / "huge.pt";
    std::ofstream(huge) << std::string(protocol::kMaxModelBytes + 1, 'x');
    auto [rc, out] = ana.cli(ana.home, ana.flags({"submit", "fashion_mnist", "--file", huge.string()}));
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find(fmt::format("torchexam: {} is {} bytes, over the server's limit of {} bytes (6 MiB) for a "
                                       "TorchScript model; nothing was uploaded",
                                       huge.string(), protocol::kMaxModelBytes + 1, protocol::kMaxModelBytes)) !=
                      std::string::npos,
                  out);
    const fs::path latin1 = ana.home / "latin1.cpp";
    std::ofstream(latin1) << "// caf\xe9\n";
    std::tie(rc, out) = ana.cli(ana.home, ana.flags({"submit", "fashion_mnist", "--file", latin1.string()}));
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find(fmt::format("torchexam: {} is not UTF-8 text; save it as UTF-8 and submit again (a "
                                       "TorchScript model is uploaded as a file whose name ends in .pt or .pth)",
                                       latin1.string())) != std::string::npos,
                  out);
    CHECK(count() == 0);

    // The submission rate counts model uploads: one a minute here.
    const std::string junk = "not a model";
    const auto up = a->call(protocol::rpc::task_upload, protocol::UploadParams{"", "", "fashion_mnist", "m.pth", junk});
    a->call(protocol::rpc::submission_cancel, protocol::SubmissionParams{up.submission, false});
    CHECK(slurp(folder / "m.pth") == junk);
    const auto flood = refusal(*a, "task/upload", {{"task", "fashion_mnist"}, {"file", "m.pth"},
                                                    {"source_base64", base64_encode("again")}});
    CHECK(flood.code == protocol::error_code::rate_limited);
    CHECK(slurp(folder / "m.pth") == junk);
    CHECK(count() == 1);
  }
}
