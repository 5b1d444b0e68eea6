// `torchexam join` and a joined workspace against the proctored server, on
// loopback with the test CA (the fixture server.ca): the layout on the
// candidate's machine (what it holds and what it never holds), a second
// join that keeps the candidate's work, the commands that then need no
// flags, and the messages for a bad address, CA or token. Each case is a
// CTest test of its own (tests/CMakeLists.txt); without the CA a case exits
// 77 (skipped).
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "client/workspace_config.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "server_util.hpp"
#include "store/audit_log.hpp"

#include <fstream>
#include <set>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::test;

namespace {

// A copy of the tiny exam with a reference solution beside its starter, so
// that a layout that copied the environment's folder would show it.
fs::path tiny_with_reference(const fs::path& where) {
  const fs::path env = where / "tiny";
  fs::create_directories(where);
  fs::copy(kTinyEnv, env, fs::copy_options::recursive);
  std::ofstream(env / "fashion_mnist/reference.cpp") << "// THE REFERENCE SOLUTION\n";
  std::ofstream(env / "fashion_mnist/task.yaml", std::ios::app) << "reference: reference.cpp\n";
  return env;
}

// Every file under `dir`, relative, sorted.
std::set<std::string> files_under(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.insert(e.path().lexically_relative(dir).string());
  return out;
}

}  // namespace

TEST_SUITE("server") {
  TEST_CASE(
      "server: join lays the workspace out from the server: statements, starters, build files with this "
      "machine's paths; no reference, data or token") {
    Server s("join-layout");
    const fs::path env = tiny_with_reference(s.d.root / "envs");
    Candidate ana(s, "ana", env);
    const fs::path ws = ana.home / "exam";
    auto [rc, out] = ana.join(ws, {"--json"});
    REQUIRE_MESSAGE(rc == 0, out);
    const json::value joined = json::parse(out.substr(out.find('{')));
    CHECK(joined.at("started").as_bool());
    CHECK(joined.at("workspace").as_string() == ws.string());
    const fs::path server_ws = s.d.state / "candidates/ana";
    REQUIRE(fs::exists(server_ws / "fashion_mnist/solution.cpp"));

    CHECK(files_under(ws) == std::set<std::string>{".torchexam/server.json", "fashion_mnist/CMakeLists.txt",
                                                   "fashion_mnist/README.md", "fashion_mnist/compile_commands.json",
                                                   "fashion_mnist/solution.cpp"});
    CHECK(slurp(ws / "fashion_mnist/README.md") == slurp(env / "fashion_mnist/README.md"));
    CHECK(slurp(ws / "fashion_mnist/solution.cpp") == slurp(env / "fashion_mnist/starter.cpp"));
    for (const auto& f : files_under(ws)) CHECK(slurp(ws / f).find("THE REFERENCE SOLUTION") == std::string::npos);

    // compile_commands.json: this folder, this machine's SDK and LibTorch.
    const json::value db = json::parse(slurp(ws / "fashion_mnist/compile_commands.json"));
    REQUIRE(db.as_array().size() == 1);
    const json::object& entry = db.as_array()[0].as_object();
    CHECK(entry.at("directory").as_string() == (ws / "fashion_mnist").string());
    CHECK(entry.at("file").as_string() == (ws / "fashion_mnist/solution.cpp").string());
    std::vector<std::string> args;
    for (const auto& a : entry.at("arguments").as_array()) args.emplace_back(a.as_string());
    CHECK(std::find(args.begin(), args.end(), "-I" + paths::sdk_include_dir().string()) != args.end());
    CHECK(std::find(args.begin(), args.end(), "-std=c++17") != args.end());
    for (const auto& a : args) CHECK_MESSAGE(a.find(s.d.root.string() + "/state") == std::string::npos, a);
    CHECK(slurp(ws / "fashion_mnist/CMakeLists.txt").find(paths::sdk_include_dir().string()) != std::string::npos);

    // The config names the server and the files, never the token.
    const auto cfg = find_workspace_config(ws / "fashion_mnist");
    REQUIRE(cfg);
    CHECK(cfg->root == ws);
    CHECK(cfg->server == ana.address());
    CHECK(cfg->token_file == ana.token);
    CHECK(cfg->ca_file == kCa / "torchexam-ca/ca.crt");
    const std::string token = slurp(ana.token).substr(0, slurp(ana.token).find('\n'));
    CHECK(slurp(ws / ".torchexam/server.json").find(token) == std::string::npos);
    CHECK(slurp(ws / ".torchexam/server.json").find(token.substr(token.rfind('.') + 1)) == std::string::npos);

    // A file on the server's side of the task folder that is neither the
    // statement nor the solution (a stand-in for data) does not travel.
    std::ofstream(server_ws / "fashion_mnist/labels.bin") << "hidden labels";
    const fs::path laptop = ana.home / "laptop";
    std::tie(rc, out) = ana.join(laptop);
    REQUIRE_MESSAGE(rc == 0, out);
    CHECK(files_under(laptop) == files_under(ws));

    // workspace/layout gives a candidate their own session only.
    Candidate ben(s, "ben", env);
    auto a = s.login(token);
    const std::string ana_session = a->call(protocol::rpc::exam_status, protocol::SessionParams{}).session;
    const std::string ben_token = slurp(ben.token);
    auto b = s.login(ben_token.substr(0, ben_token.find('\n')));
    const auto refused = refusal(*b, "workspace/layout", json::object{{"session", ana_session}});
    CHECK(refused.code == protocol::error_code::forbidden);
    CHECK(refusal(*b, "workspace/layout", json::object{}).code == protocol::error_code::not_found);
  }

  TEST_CASE("server: join twice keeps an edited solution; a fresh folder gets the server's copy") {
    Server s("join-twice");
    Candidate ana(s, "ana", kTinyEnv);
    const fs::path ws = ana.home / "exam";
    REQUIRE(ana.join(ws).first == 0);
    const fs::path solution = ws / "fashion_mnist/solution.cpp";
    const std::string mine = slurp(solution) + "// my work, not uploaded yet\n";
    std::ofstream(solution) << mine;
    fs::remove(ws / "fashion_mnist/README.md");
    auto [rc, out] = ana.join(ws);
    CHECK_MESSAGE(rc == 0, out);
    CHECK(out.find("joined session") != std::string::npos);
    CHECK(out.find("kept your fashion_mnist/solution.cpp") != std::string::npos);
    CHECK(slurp(solution) == mine);
    CHECK(fs::exists(ws / "fashion_mnist/README.md"));  // the statement comes back
    // What was submitted reaches another machine's fresh folder.
    std::tie(rc, out) = ana.cli(ws, {"submit", "fashion_mnist"});
    REQUIRE_MESSAGE(rc == 0, out);
    const fs::path other = ana.home / "laptop";
    std::tie(rc, out) = ana.join(other);
    CHECK_MESSAGE(rc == 0, out);
    CHECK(slurp(other / "fashion_mnist/solution.cpp") == mine);
    // Another token into a joined folder, or a folder inside it: refused, nothing changed; --rejoin does it.
    Candidate ben(s, "ben", kTinyEnv);
    const std::string config = slurp(ws / ".torchexam/server.json");
    std::tie(rc, out) = ben.join(ws);
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find(ws.string() + " is joined to " + ana.address() + " with the token file " +
                           ana.token.string() + "; join into another folder, or give --rejoin") != std::string::npos,
                  out);
    std::tie(rc, out) = ben.join(ws / "fashion_mnist");
    CHECK(rc == 2);
    CHECK_MESSAGE(out.find("(inside " + ws.string() + ") is joined to") != std::string::npos, out);
    CHECK(slurp(ws / ".torchexam/server.json") == config);
    CHECK(slurp(solution) == mine);
    std::tie(rc, out) = ben.join(ws, {"--rejoin"});
    CHECK_MESSAGE(rc == 0, out);
    CHECK(slurp(ws / ".torchexam/server.json").find(ben.token.string()) != std::string::npos);
    CHECK(slurp(solution) == mine);  // kept
  }

  TEST_CASE("server: an examiner names a session by the candidate; an unknown name is refused with the names") {
    Server s("join-candidate");
    Candidate ana(s, "ana", kTinyEnv);
    REQUIRE(ana.join(ana.home / "exam").first == 0);
    const fs::path eve_token = s.d.root / "eve.token";
    std::ofstream(eve_token) << s.issue("--add-examiner", "eve") << "\n";
    fs::permissions(eve_token, fs::perms::owner_read | fs::perms::owner_write);
    auto examiner = [&](std::vector<std::string> args) {
      std::vector<std::string> all = {"--server",  ana.address(), "--ca-file", (kCa / "torchexam-ca/ca.crt").string(),
                                      "--token-file", eve_token.string()};
      all.insert(all.end(), args.begin(), args.end());
      return run_cli(s.d.root, all, s.d.root / ("eve-" + std::to_string(++ana.runs) + ".out"));
    };
    auto [rc, out] = examiner({"extend", "--candidate", "ana", "30m"});
    CHECK_MESSAGE(rc == 0, out);
    // The tiny exam lasts an hour.
    const bool longer = out.find(": 1h29m left now") != std::string::npos || out.find(": 1h30m left now") != std::string::npos;
    CHECK_MESSAGE(longer, out);
    std::tie(rc, out) = examiner({"status", "--candidate", "bob"});
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find("candidate 'bob' has no session; candidates with sessions: ana") != std::string::npos, out);
    std::tie(rc, out) = examiner({"report", "--candidate", "ana"});
    CHECK_MESSAGE(rc == 0, out);
    CHECK(fs::file_size(s.d.root / "torchexam-report-ana.html") > 1000);
    std::tie(rc, out) = examiner({"stop", "--candidate", "ana", "--session", "123"});
    CHECK(rc != 0);
    CHECK_MESSAGE(out.find("excludes") != std::string::npos, out);
  }

  TEST_CASE("server: commands in a joined folder talk to the server without flags") {
    Server s("join-cli");
    Candidate ana(s, "ana", kTinyEnv);
    const fs::path ws = ana.home / "exam";
    REQUIRE(ana.join(ws).first == 0);
    auto [rc, out] = ana.cli(ws, {"status"});
    CHECK_MESSAGE(rc == 0, out);
    // The session's folder is the joined one here, not the server's.
    CHECK_MESSAGE(out.find(") in " + ws.string() + "\n") != std::string::npos, out);
    CHECK(out.find((s.d.state / "candidates/ana").string()) == std::string::npos);
    // Submit from inside a task folder: the workspace's TASK/solution.cpp goes up.
    std::ofstream(ws / "fashion_mnist/solution.cpp", std::ios::app) << "// edited in the joined folder\n";
    std::tie(rc, out) = ana.cli(ws / "fashion_mnist", {"submit", "fashion_mnist"});
    CHECK_MESSAGE(rc == 0, out);
    CHECK(out.find("uploaded") != std::string::npos);
    CHECK(slurp(s.d.state / "candidates/ana/fashion_mnist/solution.cpp").find("// edited in the joined folder") !=
          std::string::npos);
    std::tie(rc, out) = ana.cli(ws, {"history", "fashion_mnist", "--json"});
    CHECK_MESSAGE(rc == 0, out);
    CHECK(json::parse(out).at("submissions").as_array().size() == 1);
    // The report is written into the joined workspace here, not at the server's path.
    std::tie(rc, out) = ana.cli(ws / "fashion_mnist", {"report"});
    CHECK_MESSAGE(rc == 0, out);
    CHECK(fs::exists(ws / "torchexam-report.html"));
    CHECK_FALSE(fs::exists(s.d.state / "candidates/ana/torchexam-report.html"));
    // A local-only command is not sent to the server.
    std::tie(rc, out) = ana.cli(ws, {"daemon", "status", "--socket", (ana.home / "no.sock").string()});
    CHECK(rc == 1);
    CHECK(out.find("torchexamd is not running") != std::string::npos);
    // A config whose token file went away says so, and where the config is.
    fs::rename(ana.token, ana.home / "moved.token");
    std::tie(rc, out) = ana.cli(ws, {"status"});
    CHECK(rc == 2);
    CHECK(out.find("cannot read the token file " + ana.token.string()) != std::string::npos);
    CHECK(out.find((ws / ".torchexam/server.json").string() + ", written by torchexam join") != std::string::npos);
  }

  TEST_CASE("server: join with a bad address, CA or token says what is wrong and writes nothing") {
    Server s("join-bad");
    Candidate ana(s, "ana", kTinyEnv);
    const fs::path ws = ana.home / "exam";
    const std::string ca = (kCa / "torchexam-ca/ca.crt").string();
    auto join = [&](const std::string& address, const std::string& ca_file, const fs::path& token) {
      return ana.cli(ana.home, {"join", address, "--ca-file", ca_file, "--token-file", token.string(), ws.string()});
    };
    auto [rc, out] = join("127.0.0.1", ca, ana.token);
    CHECK(rc == 2);
    CHECK(out.find("takes HOST:PORT") != std::string::npos);
    // A port nobody listens on: the server's port once it has stopped.
    {
      Server gone("join-gone");
      const uint16_t port = gone.port;
      gone.d.kill9();
      std::tie(rc, out) = join("127.0.0.1:" + std::to_string(port), ca, ana.token);
      CHECK(rc == 3);
      CHECK(out.find("cannot connect to the server 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    }
    std::tie(rc, out) = join(ana.address(), (ana.home / "missing.crt").string(), ana.token);
    CHECK(rc == 2);
    CHECK(out.find("the CA file " + (ana.home / "missing.crt").string() + " (--ca-file) does not exist") !=
          std::string::npos);
    std::tie(rc, out) = join(ana.address(), (kCa / "other-ca.crt").string(), ana.token);
    CHECK(rc == 3);
    CHECK(out.find("the TLS handshake with " + ana.address() + " failed") != std::string::npos);
    CHECK(out.find("check that --ca-file is the CA that signed the server's certificate") != std::string::npos);
    const fs::path wrong = ana.home / "wrong.token";
    std::ofstream(wrong) << "txm1.0123456789abcdef." << std::string(64, '0') << "\n";
    fs::permissions(wrong, fs::perms::owner_read | fs::perms::owner_write);
    std::tie(rc, out) = join(ana.address(), ca, wrong);
    CHECK(rc == 3);
    CHECK(out.find("refused the login") != std::string::npos);
    fs::permissions(ana.token, fs::perms::group_read, fs::perm_options::add);
    std::tie(rc, out) = join(ana.address(), ca, ana.token);
    CHECK(rc == 2);
    CHECK(out.find("chmod 600 " + ana.token.string()) != std::string::npos);
    CHECK_FALSE(fs::exists(ws));  // nothing was laid out by any of these
    // An examiner's token is not a candidate's.
    const fs::path eve = ana.home / "eve.token";
    std::ofstream(eve) << s.issue("--add-examiner", "eve") << "\n";
    fs::permissions(eve, fs::perms::owner_read | fs::perms::owner_write);
    std::tie(rc, out) = join(ana.address(), ca, eve);
    CHECK(rc == 2);
    CHECK(out.find("join is for candidates") != std::string::npos);
    CHECK_FALSE(fs::exists(ws));
  }
  TEST_CASE("server: task/save writes the candidate's file on the server without submitting, audited by its hash") {
    Server s("save", {"--max-submissions-per-minute", "1"});
    auto a = s.login(s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}));
    auto b = s.login(s.issue("--add-candidate", "ben", {"--environment", kTinyEnv.string()}));
    const std::string ana_session =
        a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false}).session;
    b->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    const fs::path file = s.d.state / "candidates/ana/fashion_mnist/solution.cpp";
    const std::string text = slurp(file) + "// saved, not submitted\n";
    // More saves than the submission rate allows: saving is not submitting.
    for (int i = 0; i < 3; ++i) {
      const auto saved =
          a->call(protocol::rpc::task_save,
                  protocol::UploadParams{"", "", "fashion_mnist", "solution.cpp", text + std::to_string(i)});
      CHECK(saved.source_sha256 == sha256_hex(text + std::to_string(i)));
      CHECK(slurp(file) == text + std::to_string(i));
    }
    CHECK(a->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions.empty());
    const auto big = refusal(*a, "task/save",
                             {{"task", "fashion_mnist"}, {"source", std::string(protocol::kMaxUploadBytes + 1, ' ')}});
    CHECK(big.code == protocol::error_code::invalid_params);
    CHECK(std::string(big.what()).find("nothing was saved") != std::string::npos);
    CHECK(refusal(*a, "task/save", {{"task", "fashion_mnist"}, {"file", "../escape.cpp"}, {"source", "x"}}).code ==
          protocol::error_code::invalid_params);
    CHECK(slurp(file) == text + "2");
    // Ben cannot write into Ana's session, and an examiner has no files to save.
    CHECK(refusal(*b, "task/save", {{"session", ana_session}, {"task", "fashion_mnist"}, {"source", "x"}}).code ==
          protocol::error_code::forbidden);
    CHECK(slurp(file) == text + "2");
    // The audit log keeps each save's hash, never its text.
    bool hashed = false;
    for (const auto& r : store::AuditLog(s.d.state).records()) {
      CHECK(r.detail.find("saved, not submitted") == std::string::npos);
      hashed = hashed || (r.method == "task/save" &&
                          r.detail.find("source sha256 " + sha256_hex(text + "1")) != std::string::npos);
    }
    CHECK(hashed);
  }
}
