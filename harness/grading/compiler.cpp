#include "grading/compiler.hpp"

#include "base/paths.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/process.hpp"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <chrono>
#include <cstring>
#include <fstream>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_or_empty(const fs::path& path) {
  try {
    return read_file(path);
  } catch (const std::exception&) {
    return {};
  }
}

// "g++ (Debian 12.2.0-14) 12.2.0" — part of every cache key.
std::string compiler_identity(ProcessLauncher& launcher, const CandidateCompiler& cc) {
  if (cc.exe.empty())
    throw std::runtime_error(fmt::format(
        "the environment's compiler.id is {0}, but no {1} was found when TorchExam was configured: install it "
        "(apt-get install {2}) and configure again (scripts/setup, or cmake -S . -B build), or pin the other "
        "compiler in environment.yaml",
        cc.id, cc.id == "clang" ? "clang++" : "g++", cc.id == "clang" ? "clang" : "g++"));
  const std::string& exe = cc.exe;
  std::string first_line;
  ProcessSpec spec;
  spec.exe = exe;
  spec.args = {"--version"};
  spec.stderr_file = "/dev/null";  // the version is on stdout
  spec.wall_timeout_s = 30;
  launcher.run(spec, [&](std::string_view line) {
    if (first_line.empty()) first_line = line;
  });
  if (first_line.empty()) throw std::runtime_error("the compiler " + exe + " did not run");
  return first_line;
}

// The SDK headers' contents (every file under the include folder, by path):
// part of every cache key, so a changed header rebuilds what includes it.
std::string sdk_identity() {
  const fs::path root = build_config::kSdkIncludeDir;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Sha256 h;
  for (const auto& f : files) h.field(f.lexically_relative(root).string()).field(read_file(f));
  return h.hex();
}

// Unique temporary name next to `final_path`.
fs::path temp_beside(const fs::path& final_path) {
  return final_path.parent_path() /
         fmt::format(".{}.tmp.{}", final_path.filename().string(), static_cast<long>(getpid()));
}

}  // namespace

bool is_harness_only_flag(std::string_view flag) {
  for (const char* f : kHarnessOnlyFlags)
    if (flag == f) return true;
  for (const char* f : kClangHarnessOnlyFlags)
    if (flag == f) return true;
  return false;
}

CandidateCompiler candidate_compiler(const std::string& pinned_id) {
  const std::string id = pinned_id.empty() ? build_config::kCxxId : pinned_id;
  if (id == build_config::kCxxId) return {id, build_config::kCxx};
  return {id, id == "clang" ? build_config::kClangCxx : build_config::kGccCxx};
}

ProcessSpec sandboxed_command(const fs::path& workdir, const std::vector<fs::path>& readable,
                              const std::vector<std::string>& command, uint64_t memory_bytes) {
  ProcessSpec spec;
  spec.exe = paths::sandbox();
  spec.args = {"--workdir", workdir.string(), "--expose", paths::sdk_include_dir().string()};
  if (memory_bytes) spec.args.insert(spec.args.end(), {"--memory-bytes", std::to_string(memory_bytes)});
  for (const auto& p : readable) spec.args.insert(spec.args.end(), {"--expose", p.string()});
  spec.args.push_back("--");
  spec.args.insert(spec.args.end(), command.begin(), command.end());
  return spec;
}

// The compiler on candidate source runs in torchexam-sandbox (sandboxed_command).
ProcessSpec Compiler::sandboxed(const fs::path& workdir, const std::vector<fs::path>& readable,
                                const std::vector<std::string>& compiler_args, uint64_t memory_bytes) const {
  std::vector<std::string> command{cc_.exe};
  command.insert(command.end(), compiler_args.begin(), compiler_args.end());
  return sandboxed_command(workdir, readable, command, memory_bytes);
}

CompilerOptions compiler_options(const config::Environment& env, fs::path cache_dir) {
  CompilerOptions o;
  o.cache_dir = std::move(cache_dir);
  o.standard = env.compiler_std;
  o.flags = env.compiler_flags;
  o.compiler_id = env.pins.compiler_id;
  o.timeout_s = env.compile_timeout_s;
  return o;
}

Compiler::Compiler(CompilerOptions options)
    : o_(std::move(options)),
      launcher_(o_.launcher ? *o_.launcher : system_launcher()),
      local_(launcher_),
      cc_(candidate_compiler(o_.compiler_id)),
      compiler_id_(compiler_identity(launcher_, cc_)),
      sdk_id_(sdk_identity()) {}

std::vector<Diagnostic> Compiler::parse_diagnostics(const std::string& output, const std::string& rename_from,
                                                   const std::string& rename_to) const {
  return cc_.id == "clang" ? parse_clang_diagnostics(output, rename_from, rename_to)
                           : parse_gcc_diagnostics(output, rename_from, rename_to);
}

std::vector<std::string> Compiler::compile_flags() const {
  std::vector<std::string> f = {"-std=" + o_.standard};
  f.insert(f.end(), o_.flags.begin(), o_.flags.end());
  f.insert(f.end(), {"-fPIC", "-Wall"});
  if (cc_.id == "clang")
    f.insert(f.end(), std::begin(kClangHarnessOnlyFlags), std::end(kClangHarnessOnlyFlags));
  else
    f.insert(f.end(), std::begin(kHarnessOnlyFlags), std::end(kHarnessOnlyFlags));
  for (const auto& flag : split_list(build_config::kTorchCxxFlags, ' ')) f.push_back(flag);
  f.push_back("-I" + paths::sdk_include_dir().string());
  for (const auto& dir : split_list(build_config::kTorchIncludeDirs, ';')) {
    // The compiler's own system folders must keep their place in the search
    // order, or #include_next in the C++ library breaks.
    if (dir == "/usr/include" || dir == "/usr/local/include") continue;
    f.push_back("-isystem");
    f.push_back(dir);
  }
  return f;
}

fs::path Compiler::ensure_pch() {
  if (auto header = pch_unless_cancelled()) return *header;
  throw std::runtime_error("building the precompiled LibTorch header was cancelled");
}

std::optional<fs::path> Compiler::pch_unless_cancelled() {
  const auto flags = compile_flags();
  Sha256 h;
  h.field(compiler_id_).field(read_file(paths::sdk_include_dir() / "torchexam" / "solution.h"));
  for (const auto& f : flags) h.field(f);
  const fs::path dir = o_.cache_dir / "pch" / h.hex().substr(0, 32);
  const fs::path header = dir / "torchexam_pch.h";
  // g++ finds "<header>.gch" for -include <header>, clang "<header>.pch".
  const fs::path gch = dir / (cc_.id == "clang" ? "torchexam_pch.h.pch" : "torchexam_pch.h.gch");
  if (fs::exists(gch) && fs::exists(header)) return header;

  fs::create_directories(dir);
  const FileLock lock(dir.parent_path() / (dir.filename().string() + ".lock"), o_.cancel);
  if (!lock.held()) return std::nullopt;
  if (fs::exists(gch) && fs::exists(header)) return header;  // built while we waited
  write_text(header, "// Precompiled by TorchExam.\n#include <torchexam/solution.h>\n");
  const fs::path tmp = temp_beside(gch);
  const fs::path log = dir / "pch.log";
  // Trusted input, but built in the sandbox too: the compiler's whole tree
  // then dies with the daemon (exec_main.cpp), and a PCH build takes more
  // memory than a candidate's.
  std::vector<std::string> args = flags;
  // Clang instantiates the templates the headers use once, here, instead of
  // in every compile that includes the header (about 5 of a compile's 7
  // seconds of CPU with g++'s header, whose instantiation each compile
  // repeats: docs/benchmarks.md, bench/compile_flags).
  if (cc_.id == "clang") args.push_back("-fpch-instantiate-templates");
  args.insert(args.end(), {"-x", "c++-header", header.string(), "-o", tmp.string()});
  ProcessSpec spec = sandboxed(dir, {}, args, kPchMemoryBytes);
  spec.stderr_file = log;
  spec.wall_timeout_s = std::max(o_.timeout_s, 300.0);
  spec.cancel = o_.cancel;
  auto r = launcher_.run(spec, [](std::string_view) {});
  if (r.cancelled) {
    fs::remove(tmp);
    return std::nullopt;
  }
  if (r.timed_out || r.exit_code != 0 || !fs::exists(tmp)) {
    fs::remove(tmp);
    throw std::runtime_error("building the precompiled LibTorch header failed" +
                             std::string(r.timed_out ? " (timed out)" : "") + ":\n" + read_or_empty(log));
  }
  fs::rename(tmp, gch);
  return header;
}

std::vector<Diagnostic> Compiler::check_syntax(const fs::path& source, double timeout_s) {
  const std::optional<fs::path> header = pch_unless_cancelled();
  if (!header) return {};  // cancelled: nothing to say
  const fs::path& pch = *header;
  const std::string tag = fmt::format("syntax-{}-{}", getpid(), std::hash<std::string>{}(source.string()));
  const fs::path log = o_.cache_dir / (tag + ".log");
  const fs::path work = o_.cache_dir / tag;  // an empty, writable job folder for the sandbox
  fs::create_directories(work);
  auto args = compile_flags();
  args.insert(args.end(), {"-include", pch.string(), "-fsyntax-only", fs::absolute(source).string()});
  ProcessSpec spec = sandboxed(work, {pch.parent_path(), fs::absolute(source)}, args);
  spec.stderr_file = log;
  spec.wall_timeout_s = timeout_s;
  spec.cpu_limit_s = timeout_s;
  auto r = launcher_.run(spec, [](std::string_view) {});
  const std::string file = fs::absolute(source).string();
  std::vector<Diagnostic> out = parse_diagnostics(read_or_empty(log), file, file);
  fs::remove(log);
  std::error_code ec;
  fs::remove_all(work, ec);
  if (r.timed_out)
    out.push_back({"warning", source.string(), 0, 0, fmt::format("syntax check stopped after {:.0f} s", timeout_s)});
  return out;
}

BuildOutput Compiler::build(const fs::path& source, const std::string& display_name) {
  const auto start = std::chrono::steady_clock::now();
  BuildOutput out;
  const std::string text = read_file(source);
  const std::optional<fs::path> header = pch_unless_cancelled();
  if (!header) {
    out.cancelled = true;
    return out;
  }
  const fs::path& pch = *header;
  auto args = compile_flags();
  args.insert(args.end(), {"-include", pch.string()});

  Sha256 h;
  h.field(compiler_id_).field(sdk_id_).field(text);  // the PCH path in args names its own key
  for (const auto& a : args) h.field(a);
  out.key = h.hex();
  const fs::path dir = o_.cache_dir / "builds" / out.key.substr(0, 32);
  const fs::path lib = dir / "libsolution.so";
  const fs::path log = dir / "compiler.log";
  const fs::path snapshot = dir / "solution.cpp";
  const std::string shown = display_name.empty() ? source.string() : display_name;

  auto finish = [&](bool cached) {
    out.cached = cached;
    out.log = read_or_empty(log);
    out.diagnostics = parse_diagnostics(out.log, snapshot.string(), shown);
    out.ok = fs::exists(lib);
    if (out.ok) out.library = lib;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  };
  if (fs::exists(log)) return finish(true);  // built before, successfully or not

  fs::create_directories(dir);
  // One build per key at a time (threads, daemons, cluster nodes sharing the cache).
  const FileLock lock(dir.parent_path() / (dir.filename().string() + ".lock"), o_.cancel);
  if (!lock.held()) {
    out.cancelled = true;
    return out;
  }
  if (fs::exists(log)) return finish(true);  // built while we waited

  write_text(snapshot, text);
  const fs::path tmp_lib = temp_beside(lib);
  const fs::path tmp_log = temp_beside(log);
  const std::string libdir = build_config::kTorchLibDir;
  args.insert(args.end(), {"-shared", snapshot.string(), "-o", tmp_lib.string(), "-Wl,--no-undefined",
                           "-L" + libdir, "-Wl,-rpath," + libdir, "-ltorch", "-ltorch_cpu", "-lc10"});
  ProcessSpec spec = sandboxed(dir, {pch.parent_path()}, args);
  spec.cwd = dir;
  spec.stderr_file = tmp_log;
  spec.wall_timeout_s = o_.timeout_s;
  spec.cpu_limit_s = o_.timeout_s;
  spec.cancel = o_.cancel;
  PhaseJob job;
  job.process = spec;
  job.phase = "build";
  job.output_dirs = {dir};
  auto r = (o_.backend ? *o_.backend : local_).run(job, [](std::string_view) {});
  if (r.cancelled) {
    fs::remove(tmp_lib);
    fs::remove(tmp_log);
    out.cancelled = true;
    return out;
  }
  if (r.timed_out) {
    fs::remove(tmp_lib);
    out.timed_out = true;  // not a cache entry: a later try may be luckier
    out.log = read_or_empty(tmp_log);
    fs::remove(tmp_log);
    out.diagnostics = parse_diagnostics(out.log, snapshot.string(), shown);
    out.diagnostics.push_back({"error", shown, 0, 0,
                               fmt::format("compilation did not finish within {:.0f} s", o_.timeout_s)});
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  }
  if (r.exit_code == 0 && fs::exists(tmp_lib)) fs::rename(tmp_lib, lib);
  else fs::remove(tmp_lib);
  fs::rename(tmp_log, log);  // the log marks the entry complete
  return finish(false);
}

}  // namespace torchexam
