#include "grading/compiler.hpp"

#include "base/paths.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/process.hpp"
#include "sandbox/text.hpp"

#include <fmt/format.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

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

// GCC's plain text diagnostics (-fdiagnostics-plain-output), read line by
// line. GCC 12's JSON format leaves out the instantiation context ("required
// from here"), the only place a template error inside LibTorch names the
// candidate's line; the text format has it, at no extra cost.
//
//   In file included from F:L:C,                 include chain, innermost first
//                    from F:L:                   (continuation)
//   F: In instantiation of 'X':                  a context header ("In function
//                                                'X':", "At global scope:", ...)
//   F:L:C:   required from 'Y'                   instantiation frames, innermost
//   F:L:C:   required from here                  first
//   F:L:C: error: message                        a diagnostic (also warning, note,
//                                                fatal error, sorry, unimplemented)
//   cc1plus: error: message / collect2: ...      no location
//   /usr/bin/ld: ...: undefined reference to ... the linker
//
// Clang's text (-fno-caret-diagnostics) has the same diagnostic and include
// lines, but gives the instantiation after the error, as notes:
//
//   F:L:C: error: message                        inside LibTorch
//   F:L:C: note: in instantiation of ... requested here    innermost first
//
// so in clang mode an error or warning outside the candidate's file waits
// for its notes before it is placed (flush_pending()).
class TextDiagnostics {
 public:
  TextDiagnostics(std::string candidate, std::string shown, bool clang = false)
      : from_(std::move(candidate)), to_(std::move(shown)), clang_(clang) {}

  void line(std::string_view l) {
    if (l.empty()) return;
    const bool after_include = last_was_include_;
    last_was_include_ = starts_with(l, "In file included from ");
    if (last_was_include_) {
      // g++ continues a chain with "from" lines, clang with more of these.
      if (!clang_ || !after_include) includes_.clear();
      add_include(l.substr(22));
    } else if (l[0] == ' ' && starts_with(trim_left(l), "from ")) {
      add_include(trim_left(l).substr(5));
    } else if (auto d = diagnostic(l)) {
      add(std::move(*d));
    } else if (auto f = frame(l)) {
      context_.frames.push_back(std::move(*f));
    } else if (auto header = context_header(l)) {
      context_ = Context{};
      context_.header = std::move(*header);
    } else if (l[0] != ' ' && (l.find("error") != std::string_view::npos ||
                               l.find("undefined reference") != std::string_view::npos)) {
      // The linker and the driver, in their own words.
      out_.push_back({"error", "", 0, 0, rename(std::string(l))});
    }
  }

  std::vector<Diagnostic> take() {
    flush_pending();
    return std::move(out_);
  }

 private:
  struct Location {
    std::string file;
    int line = 0;
    int column = 0;
  };
  struct Frame : Location {
    std::string text;  // "required from here"
  };
  struct Context {
    std::string header;  // "In instantiation of '...'", "In function '...'"
    std::vector<Frame> frames;
    bool shown = false;  // its frames already went out as notes
  };

  static bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
  static std::string_view trim_left(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    return s;
  }

  // "F:L:C", "F:L" or "F": the numbers are read from the right.
  static Location location(std::string_view s) {
    Location loc;
    auto number = [&](int& n) {
      const size_t colon = s.rfind(':');
      if (colon == std::string_view::npos) return false;
      const std::string_view digits = s.substr(colon + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || end != digits.data() + digits.size()) return false;
      s = s.substr(0, colon);
      return true;
    };
    int last = 0, before = 0;
    if (number(last)) {
      if (number(before)) {
        loc.line = before;
        loc.column = last;
      } else {
        loc.line = last;
      }
    }
    loc.file = std::string(s);
    return loc;
  }

  void add_include(std::string_view where) {
    while (!where.empty() && (where.back() == ',' || where.back() == ':')) where.remove_suffix(1);
    includes_.push_back(location(where));
  }

  std::optional<Diagnostic> diagnostic(std::string_view l) const {
    static constexpr std::pair<std::string_view, const char*> kKinds[] = {
        {": error: ", "error"}, {": fatal error: ", "fatal error"}, {": warning: ", "warning"},
        {": note: ", "note"},   {": sorry, unimplemented: ", "error"}};
    size_t best = std::string_view::npos;
    std::string_view marker;
    const char* kind = nullptr;
    for (const auto& [m, k] : kKinds)
      if (const size_t pos = l.find(m); pos < best) {
        best = pos;
        marker = m;
        kind = k;
      }
    if (best == std::string_view::npos) return std::nullopt;
    const Location loc = location(l.substr(0, best));
    if (loc.line == 0) return Diagnostic{kind, "", 0, 0, std::string(l)};  // cc1plus:, collect2:, g++:
    return Diagnostic{kind, loc.file, loc.line, loc.column, std::string(l.substr(best + marker.size()))};
  }

  static std::optional<Frame> frame(std::string_view l) {
    const size_t pos = l.find(":   ");
    if (pos == std::string_view::npos) return std::nullopt;
    Frame f;
    static_cast<Location&>(f) = location(l.substr(0, pos));
    if (f.line == 0) return std::nullopt;
    f.text = std::string(trim_left(l.substr(pos + 1)));
    return f;
  }

  // "F: In function 'X':" -> "In function 'X'"; "F: At global scope:".
  static std::optional<std::string> context_header(std::string_view l) {
    if (l.back() != ':') return std::nullopt;
    size_t pos = l.find(": In ");
    if (pos == std::string_view::npos) pos = l.find(": At ");
    if (pos == std::string_view::npos || location(l.substr(0, pos)).line != 0) return std::nullopt;
    return std::string(l.substr(pos + 2, l.size() - pos - 3));
  }

  std::string rename(std::string text) const {
    if (from_.empty()) return text;
    for (size_t pos = 0; (pos = text.find(from_, pos)) != std::string::npos; pos += to_.size())
      text.replace(pos, from_.size(), to_);
    return text;
  }

  // An error or warning outside the candidate's file is shown at the
  // candidate's line that led to it: the innermost instantiation frame in
  // their file, else the #include of their file that reached it. The
  // original place and the instantiation go into the message.
  void add(Diagnostic d) {
    if (clang_) {
      if (d.severity == "note" && pending_) {
        pending_notes_.push_back(std::move(d));
        return;
      }
      flush_pending();
      if (!(d.file.empty() || d.file == from_ || d.severity == "note" || from_.empty())) {
        pending_ = std::move(d);
        return;
      }
    }
    if (d.file.empty() || d.file == from_ || d.severity == "note" || from_.empty()) {
      if (d.file == from_ && !from_.empty()) d.file = to_;
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
      return;
    }
    const Location* theirs = nullptr;
    for (const auto& f : context_.frames)
      if (f.file == from_) {
        theirs = &f;
        break;
      }
    if (!theirs)
      for (const auto& inc : includes_)
        if (inc.file == from_) theirs = &inc;
    if (!theirs) {
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
      return;
    }
    std::string where = fmt::format("{}:{}:{}", d.file, d.line, d.column);
    if (starts_with(context_.header, "In instantiation of ") || starts_with(context_.header, "In substitution of "))
      where += ", i" + context_.header.substr(1);
    out_.push_back({d.severity, to_, theirs->line, theirs->column, rename(d.message) + " (at " + rename(where) + ")"});
    if (!context_.shown) {
      context_.shown = true;
      for (const auto& f : context_.frames)
        if (f.file != from_)
          out_.push_back({"note", f.file, f.line, f.column, rename(f.text)});
    }
    out_.push_back({"note", d.file, d.line, d.column, rename(d.severity + ": " + d.message)});
  }

  // Clang: the error or warning outside the candidate's file that waits for
  // its notes, placed at the first "requested here" note in their file, else
  // at any note there, else at their #include.
  void flush_pending() {
    if (!pending_) return;
    Diagnostic d = std::move(*pending_);
    pending_.reset();
    std::vector<Diagnostic> notes = std::move(pending_notes_);
    pending_notes_.clear();
    auto in_theirs = [&](bool instantiation) -> const Diagnostic* {
      for (const auto& n : notes) {
        const bool requested = n.message.size() >= 14 && n.message.compare(n.message.size() - 14, 14, "requested here") == 0;
        if (n.file == from_ && (requested || !instantiation)) return &n;
      }
      return nullptr;
    };
    const Diagnostic* at = in_theirs(true);
    if (!at) at = in_theirs(false);
    bool instantiated = false;
    for (const auto& n : notes) instantiated |= n.message.rfind("in instantiation of ", 0) == 0;
    Location theirs;
    std::string how;  // the instantiation, for the message
    if (at) {
      theirs = {at->file, at->line, at->column};
      if (at->message.rfind("in instantiation of ", 0) == 0)
        how = at->message.substr(0, at->message.size() - std::string_view(" requested here").size());
    } else if (!instantiated && last_site_.line != 0) {
      // Clang does not repeat the instantiation of the error before when it
      // is the same: this error comes from the same line of theirs.
      theirs = last_site_;
      how = last_how_;
    } else {
      for (const auto& inc : includes_)
        if (inc.file == from_) theirs = inc;
    }
    if (at) {
      last_site_ = theirs;
      last_how_ = how;
    }
    if (theirs.line == 0) {
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
    } else {
      std::string where = fmt::format("{}:{}:{}", d.file, d.line, d.column);
      if (!how.empty()) where += ", " + how;
      out_.push_back({d.severity, to_, theirs.line, theirs.column, rename(d.message) + " (at " + rename(where) + ")"});
      out_.push_back({"note", d.file, d.line, d.column, rename(d.severity + ": " + d.message)});
    }
    for (auto& n : notes) {
      if (n.file == from_) n.file = to_;
      n.message = rename(std::move(n.message));
      out_.push_back(std::move(n));
    }
  }

  std::string from_, to_;
  bool clang_ = false;
  std::vector<Location> includes_;
  Context context_;
  std::vector<Diagnostic> out_;
  std::optional<Diagnostic> pending_;
  std::vector<Diagnostic> pending_notes_;
  bool last_was_include_ = false;
  Location last_site_;    // clang: where the last instantiation in their file was
  std::string last_how_;  // and which
};

}  // namespace

std::vector<Diagnostic> parse_gcc_diagnostics(const std::string& output, const std::string& rename_from,
                                              const std::string& rename_to) {
  TextDiagnostics parser(rename_from, rename_to);
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) parser.line(line);
  return bound_diagnostics(parser.take(), rename_to);
}

std::vector<Diagnostic> parse_clang_diagnostics(const std::string& output, const std::string& rename_from,
                                                const std::string& rename_to) {
  TextDiagnostics parser(rename_from, rename_to, true);
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) parser.line(line);
  return bound_diagnostics(parser.take(), rename_to);
}

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

std::vector<Diagnostic> bound_diagnostics(std::vector<Diagnostic> out, const std::string& shown) {
  const size_t more = out.size() > kMaxDiagnostics ? out.size() - kMaxDiagnostics : 0;
  if (more) out.resize(kMaxDiagnostics);
  for (auto& d : out) {
    d.file = to_valid_utf8(d.file);
    if (d.message.size() > kMaxDiagnosticMessage) {
      const size_t cut = d.message.size() - kMaxDiagnosticMessage;
      d.message = fmt::format("{} [{} more bytes]", std::string_view(d.message).substr(0, kMaxDiagnosticMessage), cut);
    }
    d.message = to_valid_utf8(d.message);
  }
  if (more)
    out.push_back({"note", shown, 0, 0,
                   fmt::format("{} more diagnostics not shown; the compiler's full output is in the build log", more)});
  return out;
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
