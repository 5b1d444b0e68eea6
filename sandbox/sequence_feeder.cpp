#include "sandbox/sequence_feeder.hpp"

#include "sandbox/array_file.hpp"
#include "sandbox/fd_io.hpp"
#include "sandbox/predictions.hpp"

#include <torchexam/plugin.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace torchexam::sandbox {
namespace {

int64_t per_sample(const torchexam_tensor_spec& spec) {
  int64_t n = 1;
  for (int32_t i = 1; i < spec.ndim; ++i) n *= spec.shape[i];
  return n;
}

// The feeder: serves `file` batch by batch on `out`, reads each answer from
// `in`, writes the predictions at the end. Exit 0 when all is written.
[[noreturn]] void serve(int inputs_fd, const TaskSpec& spec, const std::filesystem::path& predictions, int in,
                        int out) {
  try {
    // Mapped before the process turns non-dumpable (no candidate code runs yet).
    const auto file = MappedArrayFile::open("/proc/self/fd/" + std::to_string(inputs_fd));
    close(inputs_fd);
    prctl(PR_SET_DUMPABLE, 0);  // no /proc/PID/mem, fd or ptrace for the job's uid
    const auto& shape = file->shape();
    const int64_t n = shape.empty() ? 0 : shape[0];
    const size_t row_in = n > 0 ? static_cast<size_t>(file->bytes() / static_cast<uint64_t>(n)) : 0;
    const size_t row_out = static_cast<size_t>(per_sample(spec.output)) * dtype_size(spec.output.dtype);
    const int64_t batch = spec.evaluation.max_batch > 0 ? spec.evaluation.max_batch : n;
    std::vector<uint8_t> answers(static_cast<size_t>(n) * row_out);
    for (int64_t first = 0; first < n; first += batch) {
      const int64_t rows = std::min(batch, n - first);
      const int64_t header[2] = {first, rows};
      if (!write_all(out, header, sizeof header) ||
          !write_all(out, static_cast<const uint8_t*>(file->data()) + static_cast<size_t>(first) * row_in,
                     static_cast<size_t>(rows) * row_in))
        _exit(1);
      int64_t bytes = 0;
      if (!read_exact(in, &bytes, sizeof bytes) || bytes != rows * static_cast<int64_t>(row_out)) _exit(1);
      if (!read_exact(in, answers.data() + static_cast<size_t>(first) * row_out, static_cast<size_t>(bytes))) _exit(1);
    }
    const int64_t end[2] = {n, 0};
    torchexam_array a{};
    a.dtype = spec.output.dtype;
    a.ndim = spec.output.ndim;
    a.shape[0] = n;
    for (int32_t i = 1; i < spec.output.ndim; ++i) a.shape[i] = spec.output.shape[i];
    a.data = answers.data();
    write_predictions(predictions, a);
    write_all(out, end, sizeof end);
    _exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaluation feeder: %s\n", e.what());
    _exit(1);
  } catch (...) {
    _exit(1);
  }
}

}  // namespace

SequenceFeeder::SequenceFeeder(int inputs_fd, const TaskSpec& spec, const std::filesystem::path& predictions)
    : samples_(spec.test_samples),
      row_bytes_(static_cast<size_t>(per_sample(spec.input)) * dtype_size(spec.input.dtype)),
      input_(spec.input) {
  int down[2], up[2];  // feeder -> worker, worker -> feeder
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("cannot make the evaluation feeder's pipes: ") + std::strerror(errno));
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("cannot fork the evaluation feeder: ") + std::strerror(errno));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    close(down[0]);
    close(up[1]);
    serve(inputs_fd, spec, predictions, up[0], down[1]);
  }
  close(inputs_fd);
  close(down[1]);
  close(up[0]);
  to_worker_ = down[0];
  from_worker_ = up[1];
}

SequenceFeeder::~SequenceFeeder() {
  if (to_worker_ >= 0) close(to_worker_);
  if (from_worker_ >= 0) close(from_worker_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<SequenceFeeder::Batch> SequenceFeeder::next() {
  int64_t header[2] = {0, 0};
  if (!read_exact(to_worker_, header, sizeof header))
    throw std::runtime_error("the evaluation feeder ended early (was it killed, or given a malformed answer?)");
  if (header[1] == 0) return std::nullopt;
  Batch b;
  b.first = header[0];
  b.shape = {header[1]};
  for (int32_t i = 1; i < input_.ndim; ++i) b.shape.push_back(input_.shape[i]);
  b.bytes.resize(static_cast<size_t>(header[1]) * row_bytes_);
  if (!read_exact(to_worker_, b.bytes.data(), b.bytes.size()))
    throw std::runtime_error("the evaluation feeder ended in the middle of a batch");
  return b;
}

void SequenceFeeder::answer(const void* data, size_t bytes) {
  const int64_t n = static_cast<int64_t>(bytes);
  if (!write_all(from_worker_, &n, sizeof n) || !write_all(from_worker_, data, bytes))
    throw std::runtime_error("the evaluation feeder ended before it took the predictions");
}

void SequenceFeeder::finish() {
  close(from_worker_);
  from_worker_ = -1;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("the evaluation feeder failed to write the predictions");
}

}  // namespace torchexam::sandbox
