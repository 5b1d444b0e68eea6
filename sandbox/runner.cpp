// The LibTorch half of torchexam-runner: train and evaluate.
#include "sandbox/runner.hpp"

#include "sandbox/array_file.hpp"
#include "sandbox/cpu_pinning.hpp"
#include "sandbox/platform.hpp"
#include "sandbox/predictions.hpp"
#include "sandbox/sequence_feeder.hpp"
#include "sandbox/staged_task.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torch/version.h>
#include <torchexam/plugin.hpp>
#include <torchexam/solution.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <optional>
#include <vector>

namespace torchexam::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// Thrown for failures that are the harness's own (staged files).
struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Thrown when the candidate's model breaks the task's output contract.
struct ContractError : std::runtime_error {
  ContractError(std::string what, std::string detail)
      : std::runtime_error(std::move(what)), detail(std::move(detail)) {}
  std::string detail;
};

torch::Dtype to_torch(int32_t dtype) {
  switch (dtype) {
    case TORCHEXAM_DTYPE_FLOAT32: return torch::kFloat32;
    case TORCHEXAM_DTYPE_INT64: return torch::kInt64;
    case TORCHEXAM_DTYPE_UINT8: return torch::kUInt8;
    default: throw InternalError("staged array of unknown dtype " + std::to_string(dtype));
  }
}

std::optional<int32_t> from_torch(torch::Dtype d) {
  if (d == torch::kFloat32) return TORCHEXAM_DTYPE_FLOAT32;
  if (d == torch::kInt64) return TORCHEXAM_DTYPE_INT64;
  if (d == torch::kUInt8) return TORCHEXAM_DTYPE_UINT8;
  return std::nullopt;
}

// A tensor over a staged array file's mapping (64-byte aligned, private,
// copy-on-write); the tensor keeps the mapping alive. Errors in the file are
// the harness's own: it wrote it.
torch::Tensor load_array(const std::filesystem::path& path) {
  std::shared_ptr<const MappedArrayFile> file;
  try {
    file = MappedArrayFile::open(path);
  } catch (const ArrayFileError& e) {
    throw InternalError(e.what());
  }
  const auto options = torch::TensorOptions().dtype(to_torch(file->dtype()));
  if (file->numel() == 0) return torch::empty(file->shape(), options);
  return torch::from_blob(file->data(), file->shape(), [file](void*) {}, options);
}

TaskSpec load_spec(const std::filesystem::path& path) {
  try {
    return read_task_spec(path);
  } catch (const StagedTaskError& e) {
    throw InternalError(e.what());
  }
}

std::string describe(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

// Said with every contract failure of a task that evaluates one sample per
// forward() call (EvaluationPolicy::max_batch == 1).
constexpr const char* kOneAtATime =
    "this task evaluates its test samples one at a time (each forward() call gets a batch of 1, in the order of "
    "the test set), so the model must also work for N = 1";

// Checks a model output against the task's output spec for a batch of n;
// `note`, when not empty, ends the message.
void check_output(const torch::Tensor& out, const torchexam_tensor_spec& spec, int64_t n,
                  const torch::Tensor& input, const std::string& note = {}) {
  bool ok = out.defined() && out.dim() == spec.ndim;
  for (int32_t i = 0; ok && i < spec.ndim; ++i) ok = out.size(i) == (spec.shape[i] < 0 ? n : spec.shape[i]);
  auto dtype = out.defined() ? from_torch(out.scalar_type()) : std::nullopt;
  ok = ok && dtype && *dtype == spec.dtype;
  if (ok) return;
  std::string expected = spec_string(spec) + " with N = " + std::to_string(n);
  std::string actual = out.defined() ? describe(out) : "an undefined tensor";
  throw ContractError("the model's output does not match the task: for an input batch " + describe(input) +
                          " it returned " + actual + ", but the task expects " + expected +
                          (note.empty() ? "" : "; " + note),
                      "expected " + expected + "; actual " + actual);
}

// The candidate's library: dlopen, ABI check, create.
struct LoadedSolution {
  void* handle = nullptr;
  std::unique_ptr<Solution> solution;
  ~LoadedSolution() {
    solution.reset();  // destroy the model while its code is still mapped
    // The library stays loaded: LibTorch may hold pointers into it (autograd
    // functions, registered types) until the process exits.
  }
};

std::unique_ptr<LoadedSolution> load_solution(const std::filesystem::path& path) {
  auto out = std::make_unique<LoadedSolution>();
  out->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!out->handle)
    throw std::runtime_error(std::string("cannot load the built solution: ") + dlerror() +
                             " (a function or variable declared in solution.cpp but never defined?)");
  using AbiFn = unsigned (*)();
  using CreateFn = Solution* (*)();
  auto abi = reinterpret_cast<AbiFn>(dlsym(out->handle, "torchexam_solution_abi"));
  auto create = reinterpret_cast<CreateFn>(dlsym(out->handle, "torchexam_solution_create"));
  if (!abi || !create)
    throw std::runtime_error(
        "solution.cpp does not register a solution: end the file with TORCHEXAM_SOLUTION(YourModel, your_train_function)");
  if (abi() != kSolutionAbiVersion)
    throw std::runtime_error("solution was built against student API version " + std::to_string(abi()) +
                        ", the runner speaks version " + std::to_string(kSolutionAbiVersion));
  out->solution.reset(create());
  return out;
}

void save_module(torch::nn::Module& m, const std::filesystem::path& path) {
  torch::serialize::OutputArchive archive;
  m.save(archive);
  const auto tmp = path.string() + ".tmp";
  archive.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

void setup_torch(const RunnerOptions& o, const EventSink& sink) {
  if (const int n = pin_cpus(o.threads); n > 0)
    sink.log("the job runs on " + std::to_string(n) + " CPU" + (n == 1 ? "" : "s") + " (the task's thread count)");
  at::set_num_threads(o.threads);
  at::set_num_interop_threads(1);
  torch::manual_seed(o.seed);
  std::srand(static_cast<unsigned>(o.seed));
  // Warn-only: an operation that has no deterministic version still runs,
  // and LibTorch says which in the job's log.
  at::globalContext().setDeterministicAlgorithms(o.deterministic, /*warn_only=*/true);
}

// "ATen parallel backend: OpenMP" in at::get_parallel_info()'s text -> "OpenMP".
std::string parallel_backend() {
  const std::string info = at::get_parallel_info();
  constexpr std::string_view kKey = "ATen parallel backend: ";
  const auto found = info.find(kKey);
  if (found == std::string::npos) return {};
  const auto start = found + kKey.size();
  return info.substr(start, info.find('\n', start) - start);
}

// What this phase computes with (events.hpp Platform), written before
// candidate code is loaded, so the harness's first `platform` event is ours.
void report_platform(const EventSink& sink) {
  events::Platform p;
  p.libtorch_version = TORCH_VERSION;
  p.cxx11_abi = _GLIBCXX_USE_CXX11_ABI != 0;
  p.parallel = parallel_backend();
  const BlasFound blas = read_blas();
  p.blas_path = blas.path;
  p.blas_version = blas.version;
  p.threads = at::get_num_threads();
  p.interop_threads = at::get_num_interop_threads();
  p.deterministic = at::globalContext().deterministicAlgorithms();
  sink.emit(p);
}

// Says so in the log when the solution changed LibTorch's thread count: the
// extra threads share the task's CPUs (pin_cpus), they add no speed.
void note_thread_count(const RunnerOptions& o, const EventSink& sink) {
  const int now = at::get_num_threads();
  if (now > o.threads)
    sink.log("the solution set " + std::to_string(now) + " LibTorch threads; the job runs on " +
             std::to_string(o.threads) + " CPU" + (o.threads == 1 ? "" : "s") +
             ", so the extra threads only take turns (leave the thread count to the harness)");
}

// The Context the candidate's train() sees.
class TrainContext final : public Context {
 public:
  TrainContext(torch::Tensor x, torch::Tensor y, const RunnerOptions& o, const EventSink& sink,
               torch::nn::Module& model)
      : x_(std::move(x)), y_(std::move(y)), o_(o), sink_(sink), model_(model), start_(Clock::now()) {}

  const torch::Tensor& inputs() const override { return x_; }
  const torch::Tensor& targets() const override { return y_; }
  uint64_t seed() const override { return o_.seed; }
  double time_budget() const override { return o_.budget_s; }
  double elapsed() const override { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  using Context::report;
  void report(double loss) override {
    ++batch_;
    loss_sum_ += loss;
    last_loss_ = loss;
    const double now = elapsed();
    if (now - last_emit_ >= kEmitEvery || (batches_ && batch_ == batches_)) {
      last_emit_ = now;
      sink_.emit(progress(events::Progress::Kind::batch, loss));
    }
  }
  void metric(const std::string& name, double value) override { metrics_[name] = value; }
  void checkpoint() override { save_module(model_, o_.checkpoint); }
  void log(const std::string& message) override { sink_.log(message); }

  void epoch_begin(int epoch, int epochs) override {
    epoch_ = epoch;
    epochs_ = epochs;
    batch_ = 0;
    loss_sum_ = 0;
    metrics_.clear();
    epoch_start_ = elapsed();
  }
  void epoch_end() override {
    const double seconds = elapsed() - epoch_start_;
    epoch_seconds_ = epoch_seconds_ < 0 ? seconds : 0.5 * (epoch_seconds_ + seconds);
    ++epochs_done_;
    sink_.emit(progress(events::Progress::Kind::epoch, batch_ ? loss_sum_ / static_cast<double>(batch_) : 0));
  }
  bool next_epoch_fits() const override { return epoch_seconds_ < 0 || time_left() > 1.05 * epoch_seconds_; }
  void batches_planned(int64_t batches, int64_t samples) override {
    batches_ = batches;
    samples_ = samples;
  }

 private:
  static constexpr double kEmitEvery = 0.5;

  events::Progress progress(events::Progress::Kind kind, double loss) const {
    events::Progress p;
    p.kind = kind;
    p.epoch = epoch_;
    p.epochs = epochs_;
    p.batch = batch_;
    p.batches = batches_;
    p.loss = loss;
    p.elapsed_s = elapsed();
    p.budget_left_s = time_left();
    p.metrics = metrics_;
    const double in_epoch = p.elapsed_s - epoch_start_;
    if (batches_ > 0 && batch_ > 0 && in_epoch > 0) {
      const double per_batch = in_epoch / static_cast<double>(batch_);
      p.samples_per_s = static_cast<double>(samples_) / static_cast<double>(batches_) / per_batch;
      if (epochs_ > 0) {
        const double epoch_time = epoch_seconds_ > 0 && kind == events::Progress::Kind::epoch
                                      ? epoch_seconds_
                                      : per_batch * static_cast<double>(batches_);
        const double rest_of_epoch = kind == events::Progress::Kind::epoch
                                         ? 0
                                         : per_batch * static_cast<double>(batches_ - batch_);
        p.eta_s = rest_of_epoch + epoch_time * static_cast<double>(epochs_ - epoch_);
      }
    }
    return p;
  }

  torch::Tensor x_, y_;
  const RunnerOptions& o_;
  const EventSink& sink_;
  torch::nn::Module& model_;
  Clock::time_point start_;
  int epoch_ = 0, epochs_ = 0, epochs_done_ = 0;
  int64_t batch_ = 0, batches_ = 0, samples_ = 0;
  double loss_sum_ = 0, last_loss_ = 0, epoch_start_ = 0, epoch_seconds_ = -1, last_emit_ = -1;
  std::map<std::string, double> metrics_;
};

// Runs `body`; turns every exception into a result event and returns false.
// A harness fault is also told to the supervisor while the trusted channel
// is open (before candidate code); after that it is only a claim.
template <class F>
bool guarded(const EventSink& sink, TrustedChannel& trusted, const char* doing, F&& body) {
  try {
    body();
    return true;
  } catch (const ContractError& e) {
    sink.result(Verdict::contract, e.what(), e.detail);
  } catch (const InternalError& e) {
    trusted.harness_fault(e.what());
    sink.result(Verdict::internal_error, e.what());
  } catch (const std::bad_alloc&) {
    sink.result(Verdict::memory_limit, std::string("out of memory while ") + doing);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("can't allocate memory") != std::string::npos)  // LibTorch's CPU allocator
      sink.result(Verdict::memory_limit, std::string("out of memory while ") + doing + ": " + what);
    else
      sink.result(Verdict::runtime_error, std::string("LibTorch error while ") + doing + ": " + what);
  } catch (const std::exception& e) {
    sink.result(Verdict::runtime_error, std::string("exception while ") + doing + ": " + e.what());
  } catch (...) {
    sink.result(Verdict::runtime_error, std::string("an exception of unknown type was thrown while ") + doing);
  }
  return false;
}

// Runs the model in eval mode on a batch of 2 training samples and, when the
// task evaluates one sample per call, on a batch of exactly 1, and checks the
// output contract for each: a model that works only for one batch size fails
// here, before training, not after it.
void check_contract(Solution& s, const torch::Tensor& x, const TaskSpec& task) {
  const bool one_at_a_time = task.evaluation.max_batch == 1;
  std::vector<int64_t> sizes = {std::min<int64_t>(2, x.size(0))};
  if (one_at_a_time && x.size(0) >= 1) sizes.push_back(1);
  for (const int64_t n : sizes) {
    auto probe = x.slice(0, 0, n);
    const std::string note = one_at_a_time && n == 1 ? kOneAtATime : "";
    torch::Tensor out;
    {
      torch::NoGradGuard no_grad;
      s.module().eval();
      try {
        out = s.forward(probe);
      } catch (const c10::Error& e) {
        s.module().train();
        const std::string what = "the model's forward() failed on an input batch " + describe(probe) +
                                 " (the task's input is " + "[N, ...]; see the task README): " +
                                 e.what_without_backtrace();
        if (note.empty()) throw std::runtime_error(what);
        throw ContractError(what + "; " + note, "forward() failed for N = 1");
      }
      s.module().train();
    }
    check_output(out, task.output, n, probe, note);
  }
}

}  // namespace

int run_train(const RunnerOptions& o, const EventSink& sink, TrustedChannel& trusted) {
  setup_torch(o, sink);
  report_platform(sink);
  TaskSpec spec;
  torch::Tensor x, y;
  std::unique_ptr<LoadedSolution> lib;
  const bool trained =
      guarded(sink, trusted, "loading the task",
              [&] {
                spec = load_spec(o.spec);
                x = load_array(o.inputs);
                y = load_array(o.targets);
                if (x.dim() < 1 || y.dim() < 1 || x.size(0) != y.size(0))
                  throw InternalError("the staged training split is inconsistent: inputs " + describe(x) +
                                      ", targets " + describe(y));
              }) &&
      guarded(sink, trusted, "building the model",
              [&] {
                trusted.seal();  // dlopen runs the candidate's static constructors
                lib = load_solution(o.solution);
              }) &&
      guarded(sink, trusted, "checking the model's output", [&] { check_contract(*lib->solution, x, spec); }) &&
      guarded(sink, trusted, "training", [&] {
        TrainContext ctx(x, y, o, sink, lib->solution->module());
        lib->solution->train(ctx);
      });
  note_thread_count(o, sink);
  if (trained)
    guarded(sink, trusted, "saving the trained model", [&] {
      save_module(lib->solution->module(), o.checkpoint);
      sink.result(Verdict::ok, "trained");
    });
  return 0;
}

int run_evaluate(const RunnerOptions& o, const EventSink& sink, TrustedChannel& trusted) {
  setup_torch(o, sink);
  report_platform(sink);
  TaskSpec task;
  torchexam_tensor_spec spec{};
  torch::Tensor x;
  std::optional<SequenceFeeder> feeder;  // the inputs stay out of this process (sequence_feeder.hpp)
  const bool loaded = guarded(sink, trusted, "loading the task", [&] {
    task = load_spec(o.spec);
    spec = task.output;
    if (o.inputs_fd >= 0) {
      feeder.emplace(o.inputs_fd, task, o.predictions);
      return;
    }
    x = load_array(o.inputs);
    if (x.dim() < 1) throw InternalError("the staged test inputs " + o.inputs.string() + " have no batch dimension");
  });
  if (!loaded) return 0;
  trusted.seal();  // candidate code (the library, or a TorchScript model) comes next
  guarded(sink, trusted, "evaluating", [&] {

    std::function<torch::Tensor(const torch::Tensor&)> forward;
    std::unique_ptr<LoadedSolution> lib;
    std::optional<torch::jit::script::Module> script;
    if (!o.torchscript.empty()) {
      try {
        script = torch::jit::load(o.torchscript.string());
      } catch (const c10::Error& e) {
        throw std::runtime_error("cannot load the TorchScript model " + o.torchscript.string() + ": " +
                                 e.what_without_backtrace());
      }
      script->eval();
      forward = [&](const torch::Tensor& b) {
        auto v = script->forward({b});
        if (!v.isTensor())
          throw ContractError("the TorchScript model's forward() returned a " + v.tagKind() + ", not a tensor",
                              "expected a tensor; actual " + v.tagKind());
        return v.toTensor();
      };
    } else {
      lib = load_solution(o.solution);
      torch::serialize::InputArchive archive;
      archive.load_from(o.checkpoint.string());
      lib->solution->module().load(archive);
      lib->solution->module().eval();
      forward = [&](const torch::Tensor& b) { return lib->solution->forward(b); };
    }

    torch::NoGradGuard no_grad;
    const std::string note = task.evaluation.max_batch == 1 ? kOneAtATime : "";
    if (feeder) {  // in order, a batch at a time; the feeder writes the predictions
      while (auto batch = feeder->next()) {
        const auto b = torch::from_blob(batch->bytes.data(), batch->shape,
                                        torch::TensorOptions().dtype(to_torch(task.input.dtype)))
                           .clone();
        const auto out = forward(b).contiguous();
        check_output(out, spec, b.size(0), b, note);
        feeder->answer(out.data_ptr(), out.nbytes());
      }
      feeder->finish();
      note_thread_count(o, sink);
      sink.result(Verdict::ok, "predicted " + std::to_string(feeder->samples()) + " test samples, in order, " +
                                   std::to_string(task.evaluation.max_batch) + " at a time");
      return;
    }
    // The task's EvaluationPolicy: at most max_batch samples per forward()
    // call. The loop presents every sample once, in the staged order, which
    // is what in_order asks; it must stay that way for such tasks (a model may
    // keep state across calls, so any other order lets a later sample's
    // inputs reach an earlier sample's forecast).
    // Each batch is a copy, not a view: a view's storage is the whole staged
    // array, which the model could read past its own rows. Each output is
    // copied as soon as it is returned, so the model cannot rewrite a
    // forecast it gave earlier after seeing later inputs.
    constexpr int64_t kBatch = 1000;
    const int64_t batch = task.evaluation.max_batch > 0 ? std::min(kBatch, task.evaluation.max_batch) : kBatch;
    std::vector<torch::Tensor> parts;
    parts.reserve(static_cast<size_t>((x.size(0) + batch - 1) / batch));
    for (int64_t start = 0; start < x.size(0); start += batch) {
      const auto b = x.slice(0, start, std::min(x.size(0), start + batch)).clone();
      const auto out = forward(b);
      check_output(out, spec, b.size(0), b, note);
      parts.push_back(out.clone(at::MemoryFormat::Contiguous));
    }
    torch::Tensor all = parts.empty() ? torch::empty({0}) : torch::cat(parts).contiguous();
    torchexam_array a{};
    a.dtype = *from_torch(all.scalar_type());
    a.ndim = static_cast<int32_t>(all.dim());
    for (int64_t i = 0; i < all.dim(); ++i) a.shape[i] = all.size(i);
    a.data = all.data_ptr();
    write_predictions(o.predictions, a);
    note_thread_count(o, sink);
    sink.result(Verdict::ok, "predicted " + std::to_string(x.size(0)) + " test samples");
  });
  return 0;
}

}  // namespace torchexam::sandbox
