#include "fake_launcher.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace torchexam::test {

ProcessResult FakeLauncher::exited(int code) {
  ProcessResult r;
  r.exit_code = code;
  return r;
}

ProcessResult FakeLauncher::killed_by(int signal) {
  ProcessResult r;
  r.signal = signal;
  return r;
}

ProcessResult FakeLauncher::timed_out() {
  ProcessResult r = killed_by(9);
  r.timed_out = true;
  return r;
}

FakeLauncher::Match FakeLauncher::command(const std::string& name, std::vector<std::string> args) {
  return [name, args = std::move(args)](const ProcessSpec& spec) {
    if (spec.exe.filename() != name) return false;
    return std::all_of(args.begin(), args.end(), [&](const std::string& a) {
      return std::find(spec.args.begin(), spec.args.end(), a) != spec.args.end();
    });
  };
}

void FakeLauncher::on(Match when, Reply reply) {
  std::lock_guard lock(mu_);
  rules_.emplace_back(std::move(when), std::move(reply));
}

ProcessResult FakeLauncher::run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) {
  Reply reply;
  {
    std::lock_guard lock(mu_);
    commands_.push_back(spec);
    auto rule = std::find_if(rules_.rbegin(), rules_.rend(), [&](const auto& r) { return r.first(spec); });
    if (rule == rules_.rend()) {
      std::string line = spec.exe.string();
      for (const auto& a : spec.args) line += " " + a;
      throw std::runtime_error("cannot start " + spec.exe.string() + ": the fake launcher has no reply for: " + line);
    }
    reply = rule->second;
  }
  if (reply.effect) reply.effect(spec, reply);
  if (!spec.stderr_file.empty())
    std::ofstream(spec.stderr_file, std::ios::binary | std::ios::trunc) << reply.stderr_text;
  for (const auto& line : reply.stdout_lines) on_line(line);
  return reply.result;
}

pid_t FakeLauncher::start_detached(const DetachedSpec& spec) {
  std::lock_guard lock(mu_);
  detached_.push_back(spec);
  return detached_pid;
}

std::filesystem::path FakeLauncher::find_executable(const std::string& name) {
  std::lock_guard lock(mu_);
  if (std::find(missing_programs.begin(), missing_programs.end(), name) != missing_programs.end()) return {};
  return name.find('/') != std::string::npos ? std::filesystem::path(name) : std::filesystem::path("/fake/bin") / name;
}

std::vector<ProcessSpec> FakeLauncher::commands() const {
  std::lock_guard lock(mu_);
  return commands_;
}

std::vector<DetachedSpec> FakeLauncher::detached() const {
  std::lock_guard lock(mu_);
  return detached_;
}

std::vector<ProcessSpec> FakeLauncher::commands(const Match& m) const {
  std::lock_guard lock(mu_);
  std::vector<ProcessSpec> out;
  for (const auto& c : commands_)
    if (m(c)) out.push_back(c);
  return out;
}

std::string arg_after(const std::vector<std::string>& args, const std::string& flag) {
  auto it = std::find(args.begin(), args.end(), flag);
  return it != args.end() && it + 1 != args.end() ? *(it + 1) : std::string();
}

namespace {
bool has(const ProcessSpec& spec, const std::string& arg) {
  return std::find(spec.args.begin(), spec.args.end(), arg) != spec.args.end();
}
bool sandboxed_compiler(const ProcessSpec& spec) {
  return spec.exe.filename() == "torchexam-sandbox" && has(spec, "--");
}
}  // namespace

bool is_compiler_identity(const ProcessSpec& spec) { return spec.args == std::vector<std::string>{"--version"}; }
bool is_pch_build(const ProcessSpec& spec) { return sandboxed_compiler(spec) && has(spec, "c++-header"); }
bool is_solution_build(const ProcessSpec& spec) { return sandboxed_compiler(spec) && has(spec, "-shared"); }
bool is_syntax_check(const ProcessSpec& spec) { return sandboxed_compiler(spec) && has(spec, "-fsyntax-only"); }

void add_working_compiler(FakeLauncher& launcher) {
  launcher.on(is_compiler_identity, {{"c++ (Fake 1.0) 1.0.0"}, "", FakeLauncher::exited(0), {}});
  const auto write_output = [](const ProcessSpec& spec, FakeLauncher::Reply&) {
    std::ofstream(arg_after(spec.args, "-o")) << "fake output of " << spec.args.back();
  };
  launcher.on(is_pch_build, {{}, "", FakeLauncher::exited(0), write_output});
  launcher.on(is_solution_build, {{}, "", FakeLauncher::exited(0), write_output});
  launcher.on(is_syntax_check, {{}, "", FakeLauncher::exited(0), {}});
}

FakeHelpers::FakeHelpers(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const auto& [variable, name] : {std::pair<std::string, std::string>{"TORCHEXAM_SANDBOX", "torchexam-sandbox"},
                                       {"TORCHEXAM_RUNNER", "torchexam-runner"}}) {
    const char* old = std::getenv(variable.c_str());
    saved_.emplace_back(variable, old ? std::optional<std::string>(old) : std::nullopt);
    std::ofstream(dir / name) << "not run: the fake launcher answers for it\n";
    ::setenv(variable.c_str(), (dir / name).c_str(), 1);
  }
}

FakeHelpers::~FakeHelpers() {
  for (const auto& [variable, old] : saved_) {
    if (old)
      ::setenv(variable.c_str(), old->c_str(), 1);
    else
      ::unsetenv(variable.c_str());
  }
}

}  // namespace torchexam::test
