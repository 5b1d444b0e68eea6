// Runs the torchexam CLI for an end-to-end test and keeps what it printed.
#pragma once

#include "base/process.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace torchexam::test {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `exe args...` with `env` on top of this process's environment, in `cwd`
// (empty: this process's).
inline CliRun run_cli(const std::filesystem::path& exe, std::vector<std::string> args,
                      std::map<std::string, std::string> env = {}, double timeout_s = 1800,
                      const std::filesystem::path& cwd = {}) {
  ProcessSpec spec;
  spec.exe = exe;
  spec.args = std::move(args);
  spec.env = std::move(env);
  spec.cwd = cwd;
  spec.stderr_file = std::filesystem::temp_directory_path() / ("torchexam-e2e-" + std::to_string(getpid()) + ".stderr");
  spec.wall_timeout_s = timeout_s;
  CliRun run;
  const ProcessResult r =
      system_launcher().run(spec, [&](std::string_view line) { run.out += std::string(line) + "\n"; });
  run.exit_code = r.exit_code.value_or(-1);
  std::ifstream err(spec.stderr_file);
  run.err.assign(std::istreambuf_iterator<char>(err), {});
  std::filesystem::remove(spec.stderr_file);
  return run;
}

}  // namespace torchexam::test
