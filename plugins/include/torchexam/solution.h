// <torchexam/solution.h> — the candidate's side of an exam task.
//
// A solution is one file: a module and a training function, registered with
// TORCHEXAM_SOLUTION:
//
//     #include <torchexam/solution.h>
//
//     struct NetImpl : torch::nn::Module {
//       NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
//       torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
//       torch::nn::Linear fc;
//     };
//     TORCH_MODULE(Net);
//
//     void train(Net& model, torchexam::Context& ctx) {
//       torch::optim::Adam opt(model->parameters(), 1e-3);
//       for (int epoch : ctx.epochs(5)) {
//         for (auto& batch : ctx.batches(128)) {
//           opt.zero_grad();
//           auto loss = torch::nn::functional::cross_entropy(model(batch.x), batch.y);
//           loss.backward();
//           opt.step();
//           ctx.report(loss);
//         }
//       }
//     }
//
//     TORCHEXAM_SOLUTION(Net, train)
//
// The model type must be default-constructible: the evaluation process builds
// a fresh one and loads the trained weights (parameters and buffers) into it.
// The harness seeds every generator with the task's seed before building the
// model, sets the thread count, and saves the model when train() returns.
//
// Exceptions thrown by train() or forward() (c10::Error included) are caught
// by the runner and reported as the runtime_error verdict with their message.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace torchexam {

// Bumped whenever Solution or Context change layout.
inline constexpr unsigned kSolutionAbiVersion = 1;

struct Batch {
  torch::Tensor x;  // inputs, [B, ...]
  torch::Tensor y;  // targets, [B, ...]
};

// What the runner gives train(). Implemented by the runner; one thread.
class Context {
 public:
  virtual ~Context() = default;

  // The whole training split, as the task describes it.
  virtual const torch::Tensor& inputs() const = 0;
  virtual const torch::Tensor& targets() const = 0;

  virtual uint64_t seed() const = 0;
  // Seconds: the task's training budget, and how much of it has gone.
  virtual double time_budget() const = 0;
  virtual double elapsed() const = 0;
  double time_left() const { return time_budget() - elapsed(); }

  // Progress: the loss of the batch just trained. Feeds the live progress
  // line (loss, samples/s, ETA against the budget).
  void report(const torch::Tensor& loss) { report(loss.item<double>()); }
  virtual void report(double loss) = 0;
  // Extra metrics for the current epoch, e.g. {"val_accuracy", 0.91}; shown
  // with the epoch's summary.
  virtual void metric(const std::string& name, double value) = 0;
  // Writes the model's weights now. The harness also saves them after train().
  // When training runs out of time (verdict timeout or cpu_limit), the last
  // checkpoint written here is evaluated and scored under that verdict;
  // without one, a timeout scores 0. Call it after each epoch.
  virtual void checkpoint() = 0;
  // A line for the candidate's training log.
  virtual void log(const std::string& message) = 0;

  // Epoch numbers 1..n. Between epochs it reports the epoch's summary, and it
  // ends the loop early (with a log line saying so) when the next epoch would
  // not fit in the remaining budget, so the trained model is still graded.
  class EpochRange;
  EpochRange epochs(int n);

  // Mini-batches over the training split (or over `x`/`y` when given),
  // shuffled with the task's seed unless shuffle is false.
  std::vector<Batch> batches(int64_t batch_size, bool shuffle = true) {
    return batches(inputs(), targets(), batch_size, shuffle);
  }
  std::vector<Batch> batches(const torch::Tensor& x, const torch::Tensor& y, int64_t batch_size,
                             bool shuffle = true) {
    TORCH_CHECK(batch_size > 0, "batch size must be positive, got ", batch_size);
    const int64_t n = x.size(0);
    torch::Tensor order = shuffle ? torch::randperm(n, torch::kLong) : torch::arange(n);
    std::vector<Batch> out;
    out.reserve(static_cast<size_t>((n + batch_size - 1) / batch_size));
    for (int64_t start = 0; start < n; start += batch_size) {
      auto idx = order.slice(0, start, std::min(n, start + batch_size));
      out.push_back({x.index_select(0, idx), y.index_select(0, idx)});
    }
    batches_planned(static_cast<int64_t>(out.size()), n);
    return out;
  }

  // Splits the training data: the last `fraction` (after a seeded shuffle)
  // becomes the validation part. Returns {train_x, train_y, val_x, val_y}.
  std::vector<torch::Tensor> split(double fraction) {
    TORCH_CHECK(fraction > 0 && fraction < 1, "validation fraction must be in (0, 1), got ", fraction);
    const int64_t n = inputs().size(0);
    const auto n_val = static_cast<int64_t>(static_cast<double>(n) * fraction);
    auto order = torch::randperm(n, torch::kLong);
    auto tr = order.slice(0, 0, n - n_val), va = order.slice(0, n - n_val, n);
    return {inputs().index_select(0, tr), targets().index_select(0, tr),
            inputs().index_select(0, va), targets().index_select(0, va)};
  }

  // Hooks the helpers above call; the runner implements them.
  virtual void epoch_begin(int epoch, int epochs) = 0;
  virtual void epoch_end() = 0;
  virtual bool next_epoch_fits() const = 0;
  virtual void batches_planned(int64_t batches, int64_t samples) = 0;
};

class Context::EpochRange {
 public:
  class iterator {
   public:
    iterator(Context* ctx, int epoch, int last) : ctx_(ctx), epoch_(epoch), last_(last) {}
    int operator*() const { return epoch_; }
    iterator& operator++() {
      ctx_->epoch_end();
      ++epoch_;
      if (epoch_ <= last_) {
        if (ctx_->next_epoch_fits()) {
          ctx_->epoch_begin(epoch_, last_);
        } else {
          ctx_->log("stopping before epoch " + std::to_string(epoch_) + " of " +
                    std::to_string(last_) + ": it would not finish within the time budget");
          epoch_ = last_ + 1;
        }
      }
      return *this;
    }
    bool operator!=(const iterator& o) const { return epoch_ <= last_ && epoch_ != o.epoch_; }

   private:
    Context* ctx_;
    int epoch_, last_;
  };
  EpochRange(Context* ctx, int n) : ctx_(ctx), n_(n) {}
  iterator begin() {
    if (n_ >= 1) ctx_->epoch_begin(1, n_);
    return {ctx_, 1, n_};
  }
  iterator end() { return {ctx_, n_ + 1, n_}; }

 private:
  Context* ctx_;
  int n_;
};

inline Context::EpochRange Context::epochs(int n) { return EpochRange(this, n); }

// What the runner holds: the model behind a type-erased interface.
class Solution {
 public:
  virtual ~Solution() = default;
  virtual torch::nn::Module& module() = 0;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual void train(Context& ctx) = 0;
};

template <class Holder>
class SolutionFor final : public Solution {
 public:
  using TrainFn = void (*)(Holder&, Context&);
  explicit SolutionFor(TrainFn fn) : train_(fn) {}
  torch::nn::Module& module() override { return *model_.ptr(); }
  torch::Tensor forward(const torch::Tensor& x) override { return model_->forward(x); }
  void train(Context& ctx) override { train_(model_, ctx); }

 private:
  Holder model_;
  TrainFn train_;
};

}  // namespace torchexam

// Registers the solution: MODEL is a TORCH_MODULE holder type with a default
// constructor, TRAIN a function void(MODEL&, torchexam::Context&).
#define TORCHEXAM_SOLUTION(MODEL, TRAIN)                                              \
  extern "C" __attribute__((visibility("default"))) unsigned torchexam_solution_abi() { \
    return ::torchexam::kSolutionAbiVersion;                                          \
  }                                                                                   \
  extern "C" __attribute__((visibility("default"))) ::torchexam::Solution*            \
  torchexam_solution_create() {                                                       \
    return new ::torchexam::SolutionFor<MODEL>(&TRAIN);                               \
  }
