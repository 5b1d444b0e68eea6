// compiler.hpp — builds a candidate's solution.cpp into a shared library.
//
// The compile runs as a child process under a time limit (a template bomb is
// hostile input too) with `-fdiagnostics-plain-output`, whose lines are
// parsed into Diagnostics (file, line, column, message) that name the
// candidate's file and line first, even for an error inside LibTorch's
// templates (see parse_gcc_diagnostics). Builds are cached by content: the key is the SHA-256 of the
// source, the full command line, the compiler's identity and the SDK
// headers' contents, so an unchanged source is never rebuilt; failed builds are cached too (not timed-out ones).
// A precompiled header of <torchexam/solution.h> (LibTorch) is built once per
// flag set and <torchexam/solution.h> and forced into every compile.
//
// Cache layout: <cache>/pch/<key>/torchexam_pch.h{,.gch}
//               <cache>/builds/<key>/{solution.cpp,libsolution.so,compiler.log}
// Everything is written under a temporary name and renamed into place, so a
// killed build never leaves a half-written entry. Builds of the same key
// (the same source submitted twice at once) take turns on a lock file, so the
// second finds the first's entry. Every process (the compiler's identity,
// the PCH, the syntax check) starts through the options' launcher, the build
// itself through their backend. One Compiler per thread.
#pragma once

#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

struct Diagnostic {
  std::string severity;  // "error", "warning", "note", "fatal error"
  std::string file;      // as the candidate knows it
  int line = 0;
  int column = 0;
  std::string message;
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

struct BuildOutput {
  bool ok = false;
  bool timed_out = false;
  bool cancelled = false;
  bool cached = false;
  std::filesystem::path library;  // when ok
  std::vector<Diagnostic> diagnostics;
  std::string log;  // the compiler's raw output
  double seconds = 0;
  std::string key;
};

// The compiler for candidate code. The environment's `compiler: id:` picks
// the family: "gcc" (g++) or "clang" (clang++, whose precompiled header also
// carries LibTorch's template instantiations, so that each compile does not
// repeat them: -fpch-instantiate-templates); "" is this build's own compiler.
// exe is empty when that family's compiler was not found at configure time.
struct CandidateCompiler {
  std::string id;  // "gcc" | "clang"
  std::string exe;
};
CandidateCompiler candidate_compiler(const std::string& pinned_id);

// Build one with compiler_options(env, ...), so every compile of candidate
// code (grading, the syntax check, the workspace's compile_commands.json)
// takes the environment's standard and flags.
struct CompilerOptions {
  std::filesystem::path cache_dir;
  std::string standard = config::kDefaultCxxStandard;  // -std=; the environment's compiler.std
  std::vector<std::string> flags{config::kDefaultCompilerFlag};  // the environment's flags
  std::string compiler_id;                // the environment's compiler.id ("": this build's compiler)
  double timeout_s = 120;
  const std::atomic<bool>* cancel = nullptr;  // see ProcessSpec::cancel
  // Where build() runs the compiler (nullptr: here). The precompiled header
  // and check_syntax() always run here: they are the harness's own work and
  // the candidate's editor loop.
  Backend* backend = nullptr;
  ProcessLauncher* launcher = nullptr;  // nullptr: system_launcher(); must outlive the Compiler
};

// The options the environment's `compiler:` section gives: standard, flags,
// time limit; cache_dir as given, no cancel flag, local backend, the system launcher.
CompilerOptions compiler_options(const config::Environment& env, std::filesystem::path cache_dir);

class Compiler {
 public:
  explicit Compiler(CompilerOptions options);

  // Builds (or finds in the cache) `source`. Throws std::runtime_error only
  // for the harness's own failures (cannot write the cache, no compiler).
  // `display_name` names the source in diagnostics (default: its path).
  BuildOutput build(const std::filesystem::path& source, const std::string& display_name = "");

  // A fast syntax-only check (no code generation, no cache), for diagnostics
  // on save. `display_name` replaces the checked file's path in diagnostics.
  std::vector<Diagnostic> check_syntax(const std::filesystem::path& source, double timeout_s);

  // Makes sure the precompiled header exists; returns the header to -include.
  // Throws std::runtime_error with the compiler's output when it fails, or
  // when the options' cancel flag stopped it.
  std::filesystem::path ensure_pch();

  // The flags every compile uses (-std= first), PCH included or not.
  std::vector<std::string> compile_flags() const;

  // The compiler's first line of --version ("g++ (Debian 12.2.0-14) 12.2.0"),
  // part of every cache key and of a grading's fingerprint.
  const std::string& identity() const { return compiler_id_; }
  // The compiler's program and family ("gcc" or "clang").
  const std::string& executable() const { return cc_.exe; }
  const std::string& family() const { return cc_.id; }

  // The compiler's output as diagnostics, in its family's format (see
  // parse_gcc_diagnostics and parse_clang_diagnostics).
  std::vector<Diagnostic> parse_diagnostics(const std::string& output, const std::string& rename_from,
                                            const std::string& rename_to) const;

 private:
  // ensure_pch(), or nullopt once the options' cancel flag is set (while
  // waiting for another maker of the header, or while building it).
  std::optional<std::filesystem::path> pch_unless_cancelled();
  // torchexam-sandbox around the compiler; memory_bytes 0: the sandbox's default (2 GiB).
  ProcessSpec sandboxed(const std::filesystem::path& workdir, const std::vector<std::filesystem::path>& readable,
                        const std::vector<std::string>& compiler_args, uint64_t memory_bytes = 0) const;
  // The precompiled LibTorch header's build peaks near 1.5 GB.
  static constexpr uint64_t kPchMemoryBytes = uint64_t{6} << 30;
  CompilerOptions o_;
  ProcessLauncher& launcher_;
  LocalBackend local_;  // build()'s backend when the options name none
  CandidateCompiler cc_;
  std::string compiler_id_;
  std::string sdk_id_;
};

// `command` (a program and its arguments) in torchexam-sandbox, as the
// compiler on candidate source runs: it sees the system's headers and
// libraries, the SDK and `readable`, writes only `workdir`; /etc/shadow and
// the hidden labels do not exist for it. memory_bytes 0: the sandbox's
// default (2 GiB). The spec's stderr_file and limits are the caller's.
ProcessSpec sandboxed_command(const std::filesystem::path& workdir, const std::vector<std::filesystem::path>& readable,
                              const std::vector<std::string>& command, uint64_t memory_bytes = 0);

// Flags every compile of candidate code gets that concern only the harness
// (the diagnostics format the parsers below read, a bound on the output of a
// file of garbage, the PCH check), per compiler family; a workspace's
// compile_commands.json leaves them out.
inline constexpr const char* kHarnessOnlyFlags[] = {"-fdiagnostics-plain-output", "-fmax-errors=50",
                                                    "-Winvalid-pch"};
inline constexpr const char* kClangHarnessOnlyFlags[] = {"-fno-color-diagnostics", "-fno-caret-diagnostics",
                                                         "-ferror-limit=50", "-Winvalid-pch"};
// A flag of either list above.
bool is_harness_only_flag(std::string_view flag);

// At most this many diagnostics, then a note saying how many more; messages
// are cut at this many bytes (the full output stays in BuildOutput::log).
inline constexpr size_t kMaxDiagnostics = 100;
inline constexpr size_t kMaxDiagnosticMessage = 2000;

// Parses GCC's text diagnostics (-fdiagnostics-plain-output; the linker's and
// the driver's lines become plain errors when they say "error").
// `rename_from` is the candidate's file as compiled (the cache's snapshot),
// `rename_to` the name the candidate knows it by: it replaces the former
// everywhere, in file names and messages. An error or warning inside another
// file (a LibTorch template instantiated by the candidate's code) is placed
// at the candidate's line that led to it (the innermost "required from"
// frame in their file, else their #include), with the original place and the
// instantiation in its message; notes then give the frames and the original.
// Bounded as above; every string is valid UTF-8 (ill-formed bytes become
// U+FFFD).
std::vector<Diagnostic> parse_gcc_diagnostics(const std::string& output, const std::string& rename_from,
                                              const std::string& rename_to);

// The same for clang's text diagnostics (-fno-caret-diagnostics). Clang
// names the candidate's line after an error inside another file, in the
// notes that follow it ("in instantiation of ... requested here"): the
// error is placed at the first such note in the candidate's file (the
// innermost frame there), else at their #include, with the original place
// in its message; notes then give the original and the frames.
std::vector<Diagnostic> parse_clang_diagnostics(const std::string& output, const std::string& rename_from,
                                                const std::string& rename_to);

// The bounds above, for diagnostics from any compiler: at most
// kMaxDiagnostics (then a note on `shown` saying how many more), messages
// cut at kMaxDiagnosticMessage bytes, file names and messages valid UTF-8.
std::vector<Diagnostic> bound_diagnostics(std::vector<Diagnostic> diagnostics, const std::string& shown);

}  // namespace torchexam
