#include "daemon/server_admin.hpp"

#include "base/paths.hpp"
#include "config/config.hpp"
#include "daemon/credentials.hpp"
#include "doctor/checks.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace torchexam::daemon {
namespace fs = std::filesystem;

namespace {

// The layers a proctored exam needs (issue 22): a tree kill, a memory limit
// the kernel enforces, a system call filter.
const std::vector<std::string> kServerFloor = {"pid_namespace", "cgroup_memory", "seccomp"};

std::string parse_listen(ServerFlags& f) {
  const size_t colon = f.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == f.listen.size())
    return "--listen takes HOST:PORT (e.g. 0.0.0.0:7443, or 127.0.0.1:0 for any free port), got '" + f.listen + "'";
  std::string host = f.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = f.listen.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) > 65535)
    return "--listen: the port must be a number from 0 to 65535, got '" + port + "'";
  f.host = host;
  f.port = static_cast<uint16_t>(std::stoi(port));
  return "";
}

// Creates `dir` (and its parents) with mode 0700 when it is missing.
void create_private_dir(const fs::path& dir) {
  if (fs::exists(dir)) return;
  fs::create_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error(fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)));
}

std::string stamp(const std::optional<int64_t>& ms) { return ms ? utc_text(*ms) : "never"; }

// The folder of the environment a candidate's token pins, loaded as the
// candidate's exam/start will load it: a folder that is not there or an
// environment.yaml with errors (a `grading:` block for Slurm, say) is the
// examiner's to hear of now, not the candidate's at their join. Throws
// std::runtime_error saying so; no token is issued then. For Slurm, says
// where the gradings run, and warns when the shared folder is missing here
// (the daemon would create it, and nodes that do not mount it fail later).
std::string checked_environment(const std::string& given) {
  const fs::path dir = fs::absolute(paths::environment_dir(given));
  const config::Environment env = [&] {
    try {
      return config::load_environment(dir);
    } catch (const config::ConfigError& e) {
      throw std::runtime_error(fmt::format(
          "no token issued: the environment {} does not load, so the candidate could not start it:\n{}\nfix it "
          "(`torchexam doctor {}` checks it) and issue the token again",
          dir.string(), e.what(), dir.string()));
    }
  }();
  if (env.grading.backend == config::Grading::Backend::slurm) {
    const fs::path shared = env.grading.slurm.shared_dir;
    fmt::print(stderr, "torchexamd: environment {} grades on Slurm: job folders and build cache in {}\n", dir.string(),
               shared.string());
    std::error_code ec;
    if (!fs::is_directory(shared, ec))
      fmt::print(stderr,
                 "torchexamd: warning: {} (grading.slurm.shared_dir) is not a folder on this machine: mount the "
                 "cluster's shared filesystem there, at the path every node mounts it at, before candidates submit\n",
                 shared.string());
  }
  return dir.string();
}

int list_tokens(store::Store& db, const Clock& clock) {
  const auto rows = db.credentials();
  if (rows.empty()) {
    fmt::print("no tokens issued (torchexamd --add-candidate NAME issues one)\n");
    return 0;
  }
  fmt::print("{:<16}  {:<9}  {:<20}  {:<16}  {:<24}  {}\n", "selector", "role", "name", "environment", "expires",
             "state");
  for (const auto& r : rows) {
    const char* state = r.revoked_at_ms                                         ? "revoked"
                        : r.expires_at_ms && clock.now_ms() >= *r.expires_at_ms ? "expired"
                                                                                : "valid";
    fmt::print("{:<16}  {:<9}  {:<20}  {:<16}  {:<24}  {}\n", r.selector, r.role, r.name,
               r.environment.empty() ? "(any)" : fs::path(r.environment).filename().string(), stamp(r.expires_at_ms),
               state);
  }
  return 0;
}

}  // namespace

void add_server_flags(CLI::App& app, ServerFlags& f) {
  const char* g = "Proctored server (docs/server.md)";
  auto* listen = app.add_option("--listen", f.listen,
                                "also serve the protocol over TLS 1.3 on HOST:PORT to candidates and examiners who "
                                "log in with a token (port 0: any free port, logged)")
                     ->group(g);
  auto* cert = app.add_option("--tls-cert", f.cert, "the server's certificate chain (PEM), for --listen")->group(g);
  auto* key = app.add_option("--tls-key", f.key, "the server's private key (PEM, unencrypted), for --listen")->group(g);
  cert->needs(listen);
  key->needs(listen);
  listen->needs(cert)->needs(key);
  app.add_option("--idle-timeout", f.idle_timeout_s,
                 "seconds a TLS connection has to complete its handshake and log in before it is dropped")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str()
      ->group(g);
  app.add_option("--keepalive-timeout", f.keepalive_timeout_s,
                 "seconds a logged-in TLS connection may go without sending a whole request before it is dropped "
                 "(a quiet or trickling client; torchexam pings well within it while it waits; 0: never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-queued-mib", f.max_queued_mib,
                 "MiB of answers and notes that may wait to be sent to one TLS connection; a client that does not "
                 "read beyond it is dropped (0: no cap)")
      ->check(CLI::Range(0.0, 65536.0))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-requests-per-second", f.requests_per_second,
                 "requests of any kind a candidate may send over TLS, on average (0: no limit); beyond it the "
                 "request is refused with error -32008 and when to try again")
      ->check(CLI::Range(0.0, 100000.0))
      ->capture_default_str()
      ->group(g);
  app.add_option("--request-burst", f.request_burst,
                 "requests a candidate may send at once above --max-requests-per-second (an editor's burst)")
      ->check(CLI::Range(1.0, 100000.0))
      ->capture_default_str()
      ->group(g);
  app.add_option("--max-submissions-per-minute", f.submissions_per_minute,
                 "submissions (task/submit, task/upload) a candidate may make in any 60 s over TLS (0: no limit)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str()
      ->group(g);
  app.add_option("--server-mode", f.mode,
                 "the mode candidates' sessions start in: exam (the default; refuses to start without the sandbox "
                 "floor: pid_namespace, cgroup_memory, seccomp) or practice")
      ->check(CLI::IsMember({"exam", "practice"}))
      ->capture_default_str()
      ->group(g);
  app.add_option("--workspaces", f.workspaces,
                 "where candidates' workspaces live on the server (default: "
                 "<state dir>/candidates; one folder per candidate)")
      ->group(g);
  const char* t = "Tokens (print and exit; the daemon need not run)";
  auto* add_c = app.add_option("--add-candidate", f.add_candidate,
                               "issue a token for candidate NAME (printed once on stdout; only its hash is kept)")
                    ->group(t);
  auto* add_e = app.add_option("--add-examiner", f.add_examiner,
                               "issue an examiner token for NAME (list sessions, extend time, close exams, regrade)")
                    ->group(t);
  app.add_option("--environment", f.environment,
                 "with --add-candidate: the exam environment (name or folder) the candidate may start")
      ->needs(add_c)
      ->group(t);
  app.add_option("--expires-in", f.expires_in, "with --add-*: the token expires after this long (8h, 90m, 48h)")
      ->group(t);
  auto* revoke =
      app.add_option("--revoke", f.revoke, "revoke every token of NAME (or the token with that selector)")->group(t);
  auto* list =
      app.add_flag("--list-tokens", f.list_tokens, "list issued tokens (selectors, never the tokens)")->group(t);
  auto* audit = app.add_flag("--list-audit", f.list_audit,
                             "print the proctored server's audit log (logins, refusals, calls that change something)")
                    ->group(t);
  for (auto* a : {add_c, add_e, revoke, list, audit})
    for (auto* b : {add_c, add_e, revoke, list, audit, listen})
      if (a != b) a->excludes(b);
}

std::optional<int> run_token_admin(ServerFlags& f, const fs::path& state) {
  if (!f.listen.empty()) {
    if (auto problem = parse_listen(f); !problem.empty()) {
      fmt::print(stderr, "torchexamd: {}\n", problem);
      return 2;
    }
  }
  if (f.workspaces.empty()) f.workspaces = state / "candidates";
  f.workspaces = fs::absolute(f.workspaces);
  const bool admin =
      !f.add_candidate.empty() || !f.add_examiner.empty() || !f.revoke.empty() || f.list_tokens || f.list_audit;
  if (!admin) {
    if (!f.expires_in.empty()) {
      fmt::print(stderr, "torchexamd: --expires-in goes with --add-candidate or --add-examiner\n");
      return 2;
    }
    return std::nullopt;
  }
  try {
    SystemClock clock;
    create_private_dir(fs::absolute(state));  // the tokens' hashes, and later the server's state
    auto db = store::Store::open(fs::absolute(state));
    if (f.list_tokens) return list_tokens(*db, clock);
    if (f.list_audit) {
      for (const auto& r : store::AuditLog(fs::absolute(state)).records())
        fmt::print("{}  {:<16}  {:<22}  {:<21}  {:<18}  {}\n", utc_text(r.at_ms), r.event, r.who.empty() ? "-" : r.who,
                   r.peer, r.method.empty() ? "-" : r.method, r.detail);
      return 0;
    }
    if (!f.revoke.empty()) {
      const int n = revoke_tokens(*db, clock, f.revoke);
      if (n == 0) {
        fmt::print(stderr, "torchexamd: no valid token of '{}' to revoke (--list-tokens shows them)\n", f.revoke);
        return 1;
      }
      fmt::print(stderr, "revoked {} token{} of {}; its connections are refused from their next login\n", n,
                 n == 1 ? "" : "s", f.revoke);
      return 0;
    }
    std::optional<int64_t> ttl_ms;
    if (!f.expires_in.empty()) {
      const double s = config::parse_duration(f.expires_in);
      if (!(s > 0)) throw std::invalid_argument("--expires-in must be a positive duration (8h, 90m)");
      ttl_ms = static_cast<int64_t>(std::llround(s * 1000));
    }
    const bool candidate = !f.add_candidate.empty();
    std::string environment;
    if (!f.environment.empty()) environment = checked_environment(f.environment);
    const auto issued = issue_token(*db, clock, candidate ? Role::candidate : Role::examiner,
                                    candidate ? f.add_candidate : f.add_examiner, environment, ttl_ms);
    std::printf("%s\n", issued.token.c_str());
    std::fflush(stdout);
    fmt::print(
        stderr,
        "issued {} token for {} (selector {}, {}{}). It is shown only this once and stored only as a hash: "
        "hand it over as a file the holder alone can read (chmod 600), for torchexam --token-file.\n",
        candidate ? "a candidate" : "an examiner", issued.record.name, issued.record.selector,
        environment.empty() ? (candidate ? "any installed environment" : "examiner") : "environment " + environment,
        ttl_ms ? ", expires " + stamp(issued.record.expires_at_ms) : ", does not expire");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexamd: {}\n", e.what());
    return 2;
  }
}

void check_server_floor(const ServerFlags& f) {
  config::Pins pins;
  pins.sandbox_require = kServerFloor;
  const doctor::CheckResult r = doctor::check_sandbox_floor(pins, sandbox::probe_layers());
  if (r.status != doctor::Status::fail) return;
  const std::string what =
      fmt::format("this machine lacks the sandbox floor of a proctored exam: {}; fix: {}", r.found, r.fix);
  if (f.mode == "exam")
    throw std::runtime_error("--listen in exam mode refuses to start: " + what +
                             " (a practice server runs without it: --server-mode practice)");
  fmt::print(stderr, "torchexamd: warning: {} (practice mode: serving anyway)\n", what);
}

void secure_server_folders(const ServerFlags& f, const fs::path& state, const fs::path& data_dir) {
  for (const fs::path& dir : {state, f.workspaces}) {
    create_private_dir(dir);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
      throw std::runtime_error(fmt::format("cannot stat {}: {}", dir.string(), std::strerror(errno)));
    if (st.st_uid != ::geteuid())
      throw std::runtime_error(fmt::format("{} belongs to another user (uid {}); a server keeps its state in folders "
                                           "of its own: chown it, or choose another --state-dir/--workspaces",
                                           dir.string(), st.st_uid));
    if ((st.st_mode & 077) == 0) continue;
    if (::chmod(dir.c_str(), 0700) != 0)
      throw std::runtime_error(fmt::format("cannot make {} private (chmod 700): {}", dir.string(), std::strerror(errno)));
    fmt::print(stderr,
               "torchexamd: made {} private (mode {:o} -> 700): other users of this machine could have read "
               "candidates' work and the server's database in it\n",
               dir.string(), st.st_mode & 0777);
  }
  // The hidden data: others reach it when every folder from / down to it
  // lets them in (o+x) and it lets them list it (o+r).
  std::error_code ec;
  const fs::path data = fs::weakly_canonical(data_dir, ec);
  if (ec || !fs::is_directory(data, ec)) return;
  fs::path walked;
  for (const auto& part : data) {
    walked /= part;
    struct stat st {};
    if (::stat(walked.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return;
  }
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return;
  fmt::print(stderr,
             "torchexamd: warning: other users of this machine can read the data sets in {} (every folder down to "
             "it lets them in), the hidden test data included; on a grading host where candidates have accounts, "
             "close it: chmod 700 {}\n",
             data.string(), data.string());
}

TlsServerOptions tls_server_options(const ServerFlags& f, const fs::path& state, store::Store& db, const Clock& clock,
                                    ExamService& service) {
  TlsServerOptions o;
  o.submissions_per_minute = f.submissions_per_minute;
  o.requests_per_second = f.requests_per_second;
  o.request_burst = f.request_burst;
  o.keepalive_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::llround(f.keepalive_timeout_s * 1000)));
  o.max_queued_bytes = static_cast<size_t>(std::llround(f.max_queued_mib * 1024 * 1024));
  auto audit_log = std::make_shared<store::AuditLog>(state);
  o.audit = [audit_log](store::AuditRecord r) {
    try {
      audit_log->append(r);
    } catch (const std::exception& e) {  // the call itself stands; the log says what was lost
      fmt::print(stderr, "torchexamd: not written to the audit log ({} {} {}): {}\n", r.event, r.who, r.method,
                 e.what());
    }
  };
  o.host = f.host;
  o.port = f.port;
  o.cert_file = f.cert;
  o.key_file = f.key;
  o.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(std::llround(f.idle_timeout_s * 1000)));
  fs::create_directories(f.workspaces);
  AccessContext& a = o.access;
  a.workspaces = f.workspaces;
  a.mode = f.mode;
  const fs::path root = f.workspaces;
  a.owner_of = [&service, root](const std::string& session) -> std::optional<std::string> {
    for (const auto& r : service.sessions())
      if (r.id == session) {
        const fs::path ws(r.workspace);
        if (ws.parent_path() == root) return ws.filename().string();
        return std::nullopt;
      }
    return std::nullopt;
  };
  a.current_session = [&service, root](const std::string& name) -> std::optional<std::string> {
    std::optional<std::string> newest;  // sessions() is ordered by start
    for (const auto& r : service.sessions())
      if (fs::path(r.workspace) == root / name) newest = r.id;
    return newest;
  };
  a.session_of_submission = [&db](int64_t id) -> std::optional<std::string> {
    if (auto r = db.submission(id)) return r->session_id;
    return std::nullopt;
  };
  a.environment_dir = [](const std::string& name) { return paths::environment_dir(name); };
  o.authenticate = [&db, &clock](std::string_view token) { return authenticate(db, clock, token); };
  o.lapsed = [&db, &clock](const Principal& who) { return lapsed(db, clock, who); };
  return o;
}

}  // namespace torchexam::daemon
