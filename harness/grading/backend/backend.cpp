#include "grading/backend/backend.hpp"

#include "config/config.hpp"
#include "grading/backend/slurm_backend.hpp"

#include <map>
#include <mutex>

namespace torchexam {

Backend& local_backend() {
  static LocalBackend local;
  return local;
}

namespace {
struct Registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<slurm::SlurmBackend>> slurm;
};
Registry& registry() {
  static Registry r;
  return r;
}
std::string key_of(const config::Grading::Slurm& s) {
  std::string k = s.shared_dir.string() + '\n' + s.partition + '\n' + s.user + '\n' + s.conf.string() + '\n' +
                  std::to_string(s.poll_s) + '\n';
  for (const auto& a : s.sbatch_args) k += a + '\n';
  return k;
}
}  // namespace

Backend& backend_for(const config::Grading& grading) {
  if (grading.backend == config::Grading::Backend::local) return local_backend();
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto& slot = r.slurm[key_of(grading.slurm)];
  if (!slot) slot = std::make_unique<slurm::SlurmBackend>(grading.slurm);
  return *slot;
}

void detach_remote_jobs() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  for (auto& [k, b] : r.slurm) b->detach();
}

}  // namespace torchexam
