#include "compiler.hpp"

#include "paths.hpp"

#include "build_config.hpp"
#include "hash.hpp"
#include "process.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace torchexam {
namespace fs = std::filesystem;
namespace json = boost::json;

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
std::string compiler_identity() {
  const fs::path tmp = fs::temp_directory_path() / fmt::format("torchexam-cxx-version-{}", getpid());
  std::string first_line;
  ProcessSpec spec;
  spec.exe = build_config::kCxx;
  spec.args = {"--version"};
  spec.stderr_file = tmp;
  spec.wall_timeout_s = 30;
  run_process(spec, [&](std::string_view line) {
    if (first_line.empty()) first_line = line;
  });
  fs::remove(tmp);
  if (first_line.empty()) throw std::runtime_error(std::string("the compiler ") + build_config::kCxx + " did not run");
  return first_line;
}

// Unique temporary name next to `final_path`.
fs::path temp_beside(const fs::path& final_path) {
  return final_path.parent_path() /
         fmt::format(".{}.tmp.{}", final_path.filename().string(), static_cast<long>(getpid()));
}

std::string severity_of(const json::object& o) {
  auto it = o.find("kind");
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "error";
}

void collect(const json::array& arr, const std::string& from, const std::string& to, std::vector<Diagnostic>& out) {
  for (const auto& v : arr) {
    if (!v.is_object()) continue;
    const auto& o = v.get_object();
    Diagnostic d;
    d.severity = severity_of(o);
    if (auto m = o.find("message"); m != o.end() && m->value().is_string()) d.message = m->value().get_string();
    if (auto locs = o.find("locations"); locs != o.end() && locs->value().is_array() &&
                                         !locs->value().get_array().empty()) {
      const auto& loc = locs->value().get_array()[0];
      if (loc.is_object()) {
        if (auto caret = loc.get_object().find("caret"); caret != loc.get_object().end() && caret->value().is_object()) {
          const auto& c = caret->value().get_object();
          if (auto f = c.find("file"); f != c.end() && f->value().is_string()) d.file = f->value().get_string();
          if (auto l = c.find("line"); l != c.end() && l->value().is_int64()) d.line = static_cast<int>(l->value().get_int64());
          if (auto col = c.find("column"); col != c.end() && col->value().is_int64())
            d.column = static_cast<int>(col->value().get_int64());
        }
      }
    }
    if (!from.empty() && d.file == from) d.file = to;
    out.push_back(d);
    if (auto ch = o.find("children"); ch != o.end() && ch->value().is_array())
      collect(ch->value().get_array(), from, to, out);
  }
}

}  // namespace

std::vector<Diagnostic> parse_gcc_diagnostics(const std::string& output, const std::string& rename_from,
                                              const std::string& rename_to) {
  std::vector<Diagnostic> out;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '[') {
      json::error_code ec;
      json::value v = json::parse(line, ec);
      if (!ec && v.is_array()) {
        collect(v.get_array(), rename_from, rename_to, out);
        continue;
      }
    }
    // The linker and the driver speak plain text.
    if (line.find("error") != std::string::npos || line.find("undefined reference") != std::string::npos) {
      Diagnostic d;
      d.severity = "error";
      d.message = line;
      if (auto pos = line.find(rename_from); !rename_from.empty() && pos != std::string::npos)
        d.message.replace(pos, rename_from.size(), rename_to);
      out.push_back(d);
    }
  }
  return out;
}

// The compiler on candidate source runs in torchexam-sandbox: it sees the
// system's headers and libraries, the SDK, the PCH and `readable`, writes
// only `workdir`; /etc/shadow and the hidden labels do not exist for it.
ProcessSpec Compiler::sandboxed(const fs::path& workdir, const std::vector<fs::path>& readable,
                                const std::vector<std::string>& compiler_args) const {
  ProcessSpec spec;
  spec.exe = paths::sandbox();
  spec.args = {"--workdir", workdir.string(), "--expose", paths::sdk_include_dir().string()};
  for (const auto& p : readable) spec.args.insert(spec.args.end(), {"--expose", p.string()});
  spec.args.push_back("--");
  spec.args.push_back(build_config::kCxx);
  spec.args.insert(spec.args.end(), compiler_args.begin(), compiler_args.end());
  return spec;
}

Compiler::Compiler(CompilerOptions options) : o_(std::move(options)), compiler_id_(compiler_identity()) {}

std::vector<std::string> Compiler::compile_flags() const {
  std::vector<std::string> f = {"-std=c++17"};
  f.insert(f.end(), o_.flags.begin(), o_.flags.end());
  f.insert(f.end(), {"-fPIC", "-Wall", "-fdiagnostics-format=json", "-Winvalid-pch"});
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
  const auto flags = compile_flags();
  Sha256 h;
  h.field(compiler_id_).field(read_file(paths::sdk_include_dir() / "torchexam" / "solution.h"));
  for (const auto& f : flags) h.field(f);
  const fs::path dir = o_.cache_dir / "pch" / h.hex().substr(0, 32);
  const fs::path header = dir / "torchexam_pch.h";
  const fs::path gch = dir / "torchexam_pch.h.gch";
  if (fs::exists(gch) && fs::exists(header)) return header;

  fs::create_directories(dir);
  const FileLock lock(dir.parent_path() / (dir.filename().string() + ".lock"));
  if (fs::exists(gch) && fs::exists(header)) return header;  // built while we waited
  write_text(header, "// Precompiled by TorchExam.\n#include <torchexam/solution.h>\n");
  const fs::path tmp = temp_beside(gch);
  const fs::path log = dir / "pch.log";
  ProcessSpec spec;
  spec.exe = build_config::kCxx;
  spec.args = flags;
  spec.args.insert(spec.args.end(), {"-x", "c++-header", header.string(), "-o", tmp.string()});
  spec.stderr_file = log;
  spec.wall_timeout_s = std::max(o_.timeout_s, 300.0);
  auto r = run_process(spec, [](std::string_view) {});
  if (r.timed_out || r.exit_code != 0 || !fs::exists(tmp)) {
    fs::remove(tmp);
    throw std::runtime_error("building the precompiled LibTorch header failed" +
                             std::string(r.timed_out ? " (timed out)" : "") + ":\n" + read_or_empty(log));
  }
  fs::rename(tmp, gch);
  return header;
}

std::vector<Diagnostic> Compiler::check_syntax(const fs::path& source, double timeout_s) {
  const fs::path pch = ensure_pch();
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
  auto r = run_process(spec, [](std::string_view) {});
  std::vector<Diagnostic> out = parse_gcc_diagnostics(read_or_empty(log), "", "");
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
  const fs::path pch = ensure_pch();
  auto args = compile_flags();
  args.insert(args.end(), {"-include", pch.string()});

  Sha256 h;
  h.field(compiler_id_).field(text);  // the PCH path in args names its own key
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
    out.diagnostics = parse_gcc_diagnostics(out.log, snapshot.string(), shown);
    out.ok = fs::exists(lib);
    if (out.ok) out.library = lib;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  };
  if (fs::exists(log)) return finish(true);  // built before, successfully or not

  fs::create_directories(dir);
  // One build per key at a time (threads, daemons, cluster nodes sharing the cache).
  const FileLock lock(dir.parent_path() / (dir.filename().string() + ".lock"));
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
  auto r = (o_.backend ? *o_.backend : local_backend()).run(job, [](std::string_view) {});
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
    out.diagnostics = parse_gcc_diagnostics(out.log, snapshot.string(), shown);
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
