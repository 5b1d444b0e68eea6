#include "grading/backend/backend.hpp"

#include "config/config.hpp"
#include "grading/backend/slurm_backend.hpp"

#include <map>
#include <mutex>

namespace torchexam {

namespace {
std::string key_of(const config::Grading::Slurm& s) {
  std::string k = s.shared_dir.string() + '\n' + s.partition + '\n' + s.user + '\n' + s.conf.string() + '\n' +
                  std::to_string(s.poll_s) + '\n';
  for (const auto& a : s.sbatch_args) k += a + '\n';
  return k;
}
}  // namespace

struct BackendRegistry::Remote {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<slurm::SlurmBackend>> slurm;
};

BackendRegistry::BackendRegistry(ProcessLauncher& launcher)
    : launcher_(launcher), local_(launcher), remote_(std::make_unique<Remote>()) {}

BackendRegistry::~BackendRegistry() = default;

Backend& BackendRegistry::for_grading(const config::Grading& grading) {
  if (grading.backend == config::Grading::Backend::local) return local_;
  std::lock_guard lock(remote_->mu);
  auto& slot = remote_->slurm[key_of(grading.slurm)];
  if (!slot) slot = std::make_unique<slurm::SlurmBackend>(grading.slurm, launcher_);
  return *slot;
}

void BackendRegistry::detach_remote_jobs() {
  std::lock_guard lock(remote_->mu);
  for (auto& [k, b] : remote_->slurm) b->detach();
}

}  // namespace torchexam
