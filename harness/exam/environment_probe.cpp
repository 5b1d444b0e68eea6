#include "exam/environment_probe.hpp"

#include "base/paths.hpp"
#include "exam/service_error.hpp"

namespace torchexam {
namespace fs = std::filesystem;
using Kind = ServiceError::Kind;

config::Environment load_exam_environment(const fs::path& dir) {
  try {
    return config::load_environment(dir);
  } catch (const config::ConfigError& e) {
    throw ServiceError(Kind::environment_error, std::string("the exam environment has errors:\n") + e.what());
  }
}

EnvironmentProbe::EnvironmentProbe(WorkerThreads& thread, VerifyFn verify, fs::path state_dir)
    : thread_(thread),
      verify_(std::move(verify)),
      state_dir_(std::move(state_dir)) {}

std::vector<doctor::CheckResult> EnvironmentProbe::problems(const config::Environment& env) const {
  std::vector<doctor::CheckResult> out;
  if (!verify_) return out;
  for (auto& c : verify_(env))
    if (c.status != doctor::Status::ok) out.push_back(std::move(c));
  return out;
}

void EnvironmentProbe::problems_async(std::shared_ptr<const config::Environment> env,
                                      Reply<std::vector<doctor::CheckResult>> then) {
  thread_.run<std::vector<doctor::CheckResult>>([this, env] { return problems(*env); }, std::move(then));
}

void EnvironmentProbe::require_passed(const std::vector<doctor::CheckResult>& problems, const fs::path& environment_dir) {
  if (doctor::passed(problems)) return;
  std::string lines;
  for (const auto& c : problems)
    if (c.status == doctor::Status::fail) lines += "\n" + doctor::to_line(c);
  throw ServiceError(Kind::environment_error,
                     "this machine does not meet the exam environment's requirements (torchexam doctor " +
                         environment_dir.string() + " shows every check):" + lines);
}

VerifyReport EnvironmentProbe::verify(const fs::path& environment) const {
  if (environment.empty()) throw ServiceError(Kind::invalid_argument, "the environment folder must be given");
  VerifyReport r;
  r.environment = fs::absolute(environment).lexically_normal();
  const config::Environment env = load_exam_environment(r.environment);
  if (verify_) r.checks = verify_(env);
  r.ok = doctor::passed(r.checks);
  const fs::path state = state_dir_.empty() ? paths::state_dir() : state_dir_;
  r.forecasts = doctor::load_forecasts(doctor::forecast_file(state, env.name));
  return r;
}

void EnvironmentProbe::verify_async(fs::path environment, Reply<VerifyReport> then) {
  thread_.run<VerifyReport>([this, environment = std::move(environment)] { return verify(environment); },
                            std::move(then));
}

}  // namespace torchexam
