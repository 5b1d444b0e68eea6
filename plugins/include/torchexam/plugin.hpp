// torchexam/plugin.hpp — C++ on both sides of the plugin C ABI.
//
// Host side (the trusted harness only): `PluginLibrary` dlopens a plugin,
// checks its ABI version and creates `Task`s. Optional table members a
// plugin's `struct_size` does not cover (it was built against an older
// header) get their documented defaults (plugin_abi.h): such a plugin's
// Task::score_with_diagnostics() gives its metric with no diagnostics. Failures throw `PluginError`
// whose message names the plugin and says what to do. `Array` owns an array a
// plugin produced and releases it once.
//
// Author side (a task plugin): derive from `TaskBase`, implement its virtual
// functions with ordinary C++ (throwing std::exception on failure), and
// export it with TORCHEXAM_EXPORT_PLUGIN(name, Class). The macro generates the
// C entry point; every exception is caught there and returned as an error
// string, so none crosses dlopen.
//
// Threads: a Task is used from one thread at a time. A Task, and every Array
// it hands out, keeps its PluginLibrary loaded (the library is unloaded when
// the last of them goes), so no code of the plugin is called after dlclose.
#pragma once

#include <torchexam/plugin_abi.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam {

class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A metric and the task's diagnostics (plugin_abi.h, score_with_diagnostics):
// JSON text in the shape docs/plugins.md gives, or empty for none. Both
// sides use it: a TaskBase returns one, Task::score_with_diagnostics() hands
// one to the host, which validates the text before using it.
struct Scored {
  double metric = 0;
  std::string diagnostics_json;
};

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case TORCHEXAM_DTYPE_FLOAT32: return "float32";
    case TORCHEXAM_DTYPE_INT64: return "int64";
    case TORCHEXAM_DTYPE_UINT8: return "uint8";
    default: return "unknown-dtype";
  }
}

inline size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case TORCHEXAM_DTYPE_FLOAT32: return 4;
    case TORCHEXAM_DTYPE_INT64: return 8;
    case TORCHEXAM_DTYPE_UINT8: return 1;
    default: return 0;
  }
}

// "[N, 10] float32" — -1 dimensions print as N.
inline std::string shape_string(const int64_t* shape, int32_t ndim) {
  std::string s = "[";
  for (int32_t i = 0; i < ndim; ++i) {
    if (i) s += ", ";
    s += shape[i] < 0 ? std::string("N") : std::to_string(shape[i]);
  }
  return s + "]";
}

inline std::string spec_string(const torchexam_tensor_spec& spec) {
  return shape_string(spec.shape, spec.ndim) + " " + dtype_name(spec.dtype);
}

// Owns a torchexam_array and calls its release exactly once.
class Array {
 public:
  Array() { std::memset(&raw_, 0, sizeof raw_); }
  explicit Array(const torchexam_array& raw) : raw_(raw) {}
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  Array(Array&& o) noexcept : raw_(o.raw_), keep_(std::move(o.keep_)) { std::memset(&o.raw_, 0, sizeof o.raw_); }
  Array& operator=(Array&& o) noexcept {
    if (this != &o) {
      reset();
      raw_ = o.raw_;
      keep_ = std::move(o.keep_);
      std::memset(&o.raw_, 0, sizeof o.raw_);
    }
    return *this;
  }
  ~Array() { reset(); }

  void reset() {
    if (raw_.release) raw_.release(&raw_);
    std::memset(&raw_, 0, sizeof raw_);
    keep_.reset();
  }
  // Keeps `owner` (the library whose code releases this array) alive as long
  // as the array.
  void keep_alive(std::shared_ptr<const void> owner) { keep_ = std::move(owner); }
  torchexam_array* raw() { return &raw_; }
  const torchexam_array& get() const { return raw_; }
  int64_t numel() const {
    if (raw_.ndim <= 0) return 0;
    return std::accumulate(raw_.shape, raw_.shape + raw_.ndim, int64_t{1},
                           std::multiplies<>());
  }
  std::vector<int64_t> shape() const { return {raw_.shape, raw_.shape + raw_.ndim}; }

  // An owning array over a vector, for producers (plugins, tests).
  template <class T>
  static torchexam_array from_vector(std::vector<T> values, int32_t dtype,
                                     std::vector<int64_t> shape) {
    if (shape.size() > TORCHEXAM_MAX_DIMS)
      throw std::invalid_argument("an array may have at most " + std::to_string(TORCHEXAM_MAX_DIMS) + " dimensions");
    torchexam_array a;
    std::memset(&a, 0, sizeof a);
    a.dtype = dtype;
    a.ndim = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) a.shape[i] = shape[i];
    auto* owned = new std::vector<T>(std::move(values));
    a.data = owned->data();
    a.producer_state = owned;
    a.release = [](torchexam_array* self) {
      delete static_cast<std::vector<T>*>(self->producer_state);
      self->producer_state = nullptr;
      self->data = nullptr;
    };
    return a;
  }

 private:
  torchexam_array raw_;
  std::shared_ptr<const void> keep_;
};

namespace detail {
inline std::string take_error(char* error, const char* fallback) {
  std::string s = error ? error : fallback;
  std::free(error);
  return s;
}
}  // namespace detail

class Task;

class PluginLibrary : public std::enable_shared_from_this<PluginLibrary> {
 public:
  // Loads `path`. Throws PluginError when the file cannot be loaded, does not
  // export the entry point, or was built for another ABI version.
  static std::shared_ptr<PluginLibrary> open(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      throw PluginError("cannot load task plugin '" + path + "': " + (why ? why : "unknown error"));
    }
    auto lib = std::shared_ptr<PluginLibrary>(new PluginLibrary(handle, path));
    auto entry = reinterpret_cast<torchexam_plugin_entry_fn>(dlsym(handle, TORCHEXAM_PLUGIN_ENTRY_SYMBOL));
    if (!entry)
      throw PluginError("'" + path + "' is not a TorchExam task plugin: it does not export " +
                        TORCHEXAM_PLUGIN_ENTRY_SYMBOL + "()");
    const torchexam_plugin_header* header = entry();
    if (!header) throw PluginError("task plugin '" + path + "' returned no plugin description");
    if (header->abi_version != TORCHEXAM_PLUGIN_ABI_VERSION)
      throw PluginError("task plugin '" + path + "' was built for plugin ABI version " +
                        std::to_string(header->abi_version) + ", but this harness speaks version " +
                        std::to_string(TORCHEXAM_PLUGIN_ABI_VERSION) +
                        "; rebuild the plugin against this TorchExam SDK");
    if (header->struct_size < TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE)
      throw PluginError("task plugin '" + path + "' has a truncated version-1 table (" +
                        std::to_string(header->struct_size) + " bytes, expected at least " +
                        std::to_string(TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE) + ")");
    lib->vtable_ = reinterpret_cast<const torchexam_plugin_v1*>(header);
    lib->name_ = header->plugin_name ? header->plugin_name : "";
    return lib;
  }

  ~PluginLibrary() {
    if (handle_) dlclose(handle_);
  }
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  const torchexam_plugin_v1& vtable() const { return *vtable_; }

  inline Task create(const std::map<std::string, std::string>& options) const;

 private:
  PluginLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void* handle_ = nullptr;
  std::string path_;
  std::string name_;
  const torchexam_plugin_v1* vtable_ = nullptr;
};

// A created task: RAII over the opaque handle.
class Task {
 public:
  Task(std::shared_ptr<const PluginLibrary> lib, const torchexam_plugin_v1* vt, torchexam_task* handle,
       std::string plugin)
      : lib_(std::move(lib)), vt_(vt), handle_(handle, vt->destroy), plugin_(std::move(plugin)) {}

  const torchexam_task_info& info() {
    if (!have_info_) {
      char* err = nullptr;
      if (vt_->describe(handle_.get(), &info_, &err) != 0)
        throw PluginError(plugin_ + ": describe failed: " + detail::take_error(err, "no message"));
      have_info_ = true;
    }
    return info_;
  }

  std::pair<Array, Array> train_split() {
    Array inputs, targets;
    char* err = nullptr;
    if (vt_->train_split(handle_.get(), inputs.raw(), targets.raw(), &err) != 0)
      throw PluginError(plugin_ + ": loading the training split failed: " + detail::take_error(err, "no message"));
    inputs.keep_alive(lib_);
    targets.keep_alive(lib_);
    return {std::move(inputs), std::move(targets)};
  }

  Array test_inputs() {
    Array inputs;
    char* err = nullptr;
    if (vt_->test_inputs(handle_.get(), inputs.raw(), &err) != 0)
      throw PluginError(plugin_ + ": loading the test inputs failed: " + detail::take_error(err, "no message"));
    inputs.keep_alive(lib_);
    return inputs;
  }

  // How the test inputs may be presented to the model. {0, 0} (any batching,
  // any order) when the plugin's table has no `evaluation` member or it is
  // NULL. Throws PluginError when the call fails or the answer is invalid.
  torchexam_evaluation evaluation() {
    torchexam_evaluation e{};
    if (!TORCHEXAM_PLUGIN_HAS(vt_->header.struct_size, evaluation) || !vt_->evaluation) return e;
    char* err = nullptr;
    if (vt_->evaluation(handle_.get(), &e, &err) != 0)
      throw PluginError(plugin_ + ": evaluation failed: " + detail::take_error(err, "no message"));
    if (e.max_batch < 0 || (e.in_order != 0 && e.in_order != 1))
      throw PluginError(plugin_ + ": evaluation returned max_batch " + std::to_string(e.max_batch) + ", in_order " +
                        std::to_string(e.in_order) + "; max_batch must be >= 0 (0: any) and in_order 0 or 1");
    return e;
  }

  double score(const torchexam_array& predictions) {
    torchexam_array borrowed = borrow(predictions);
    double metric = 0;
    char* err = nullptr;
    if (vt_->score(handle_.get(), &borrowed, &metric, &err) != 0)
      throw PluginError(plugin_ + ": scoring failed: " + detail::take_error(err, "no message"));
    return metric;
  }

  // True when the plugin's table has a score_with_diagnostics member.
  bool has_diagnostics() const {
    return TORCHEXAM_PLUGIN_HAS(vt_->header.struct_size, score_with_diagnostics) && vt_->score_with_diagnostics;
  }

  // The metric and the plugin's diagnostics text, as the plugin gave it
  // (unchecked: the host validates it). A plugin without the member
  // (has_diagnostics() false) is scored through score(), with no
  // diagnostics. Throws PluginError when the call fails.
  Scored score_with_diagnostics(const torchexam_array& predictions) {
    if (!has_diagnostics()) return {score(predictions), {}};
    torchexam_array borrowed = borrow(predictions);
    Scored out;
    char* text = nullptr;
    char* err = nullptr;
    const int failed = vt_->score_with_diagnostics(handle_.get(), &borrowed, &out.metric, &text, &err);
    const std::unique_ptr<char, void (*)(void*)> owned(text, std::free);
    if (failed) throw PluginError(plugin_ + ": scoring failed: " + detail::take_error(err, "no message"));
    if (text) out.diagnostics_json = text;
    return out;
  }

 private:
  std::shared_ptr<const PluginLibrary> lib_;  // destroyed last: handle_'s deleter is plugin code
  // Predictions lent to the plugin: it must not release our data.
  static torchexam_array borrow(const torchexam_array& predictions) {
    torchexam_array borrowed = predictions;
    borrowed.release = nullptr;
    borrowed.producer_state = nullptr;
    return borrowed;
  }

  const torchexam_plugin_v1* vt_;
  std::unique_ptr<torchexam_task, void (*)(torchexam_task*)> handle_;
  std::string plugin_;
  torchexam_task_info info_{};
  bool have_info_ = false;
};

inline Task PluginLibrary::create(const std::map<std::string, std::string>& options) const {
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : options) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  char* err = nullptr;
  torchexam_task* t = vtable_->create(keys.data(), values.data(), keys.size(), &err);
  if (!t) throw PluginError("task plugin '" + name_ + "': " + detail::take_error(err, "create failed"));
  return Task(shared_from_this(), vtable_, t, name_);
}

// ---------------------------------------------------------------------------
// Author side.

class TaskBase {
 public:
  virtual ~TaskBase() = default;
  // Filled once; string fields point into members of the derived class.
  virtual torchexam_task_info describe() const = 0;
  virtual void train_split(torchexam_array& inputs, torchexam_array& targets) = 0;
  virtual torchexam_array test_inputs() = 0;
  virtual double score(const torchexam_array& predictions) = 0;
  // How the test inputs may be presented to the model (plugin_abi.h,
  // torchexam_evaluation). The default allows any batching and any order;
  // a task whose test samples overlap in time returns {1, 1}.
  virtual torchexam_evaluation evaluation() const { return {0, 0, 0}; }
  // The metric with the task's diagnostics (plugin_abi.h,
  // score_with_diagnostics; <torchexam/scoring.hpp> builds them). The host
  // calls this instead of score() when the plugin has it, which every plugin
  // built with this SDK has. The default is score()'s metric and no
  // diagnostics; a task that gives diagnostics overrides this and has its
  // score() return this one's metric.
  virtual Scored score_with_diagnostics(const torchexam_array& predictions) { return {score(predictions), {}}; }
};

namespace detail {
inline char* dup_error(const char* msg) {
  size_t n = std::strlen(msg) + 1;
  char* s = static_cast<char*>(std::malloc(n));
  if (s) std::memcpy(s, msg, n);
  return s;
}

// `text` copied into malloc()ed memory the caller frees, NUL-terminated.
// Throws std::bad_alloc when there is no memory.
inline char* malloc_copy(std::string_view text) {
  char* s = static_cast<char*>(std::malloc(text.size() + 1));
  if (!s) throw std::bad_alloc();
  std::memcpy(s, text.data(), text.size());
  s[text.size()] = '\0';
  return s;
}

template <class F>
int guarded(char** error, F&& f) noexcept {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    if (error) *error = dup_error(e.what());
  } catch (...) {
    if (error) *error = dup_error("unknown exception in task plugin");
  }
  return 1;
}

// Creates a TaskBase-derived Class from its options map; the handle is the
// TaskBase pointer itself.
template <class Class>
struct Exporter {
  static torchexam_task* create(const char* const* keys, const char* const* values, size_t n,
                                char** error) noexcept {
    TaskBase* t = nullptr;
    guarded(error, [&] {
      std::map<std::string, std::string> options;
      for (size_t i = 0; i < n; ++i) options[keys[i]] = values[i];
      t = new Class(options);
    });
    return reinterpret_cast<torchexam_task*>(t);
  }
  static void destroy(torchexam_task* t) noexcept { delete reinterpret_cast<TaskBase*>(t); }
  static int describe(const torchexam_task* t, torchexam_task_info* out, char** error) noexcept {
    return guarded(error, [&] { *out = reinterpret_cast<const TaskBase*>(t)->describe(); });
  }
  static int train_split(torchexam_task* t, torchexam_array* in, torchexam_array* tg,
                         char** error) noexcept {
    return guarded(error, [&] { reinterpret_cast<TaskBase*>(t)->train_split(*in, *tg); });
  }
  static int test_inputs(torchexam_task* t, torchexam_array* in, char** error) noexcept {
    return guarded(error, [&] { *in = reinterpret_cast<TaskBase*>(t)->test_inputs(); });
  }
  static int score(torchexam_task* t, const torchexam_array* p, double* metric,
                   char** error) noexcept {
    return guarded(error, [&] { *metric = reinterpret_cast<TaskBase*>(t)->score(*p); });
  }
  static int evaluation(const torchexam_task* t, torchexam_evaluation* out, char** error) noexcept {
    return guarded(error, [&] { *out = reinterpret_cast<const TaskBase*>(t)->evaluation(); });
  }
  static int score_with_diagnostics(torchexam_task* t, const torchexam_array* p, double* metric, char** json,
                                    char** error) noexcept {
    return guarded(error, [&] {
      const Scored s = reinterpret_cast<TaskBase*>(t)->score_with_diagnostics(*p);
      *json = s.diagnostics_json.empty() ? nullptr : malloc_copy(s.diagnostics_json);
      *metric = s.metric;
    });
  }
};
}  // namespace detail

// FNV-1a, 64 bits: a stable hash of a sample's key (a file name, a row id) for
// deterministic hidden splits, the same on every machine and run.
inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// A whole number >= 0 given as option `key`; 0 when the option is absent.
// Throws std::invalid_argument naming the option when it is anything else.
inline int64_t count_option(const std::map<std::string, std::string>& options, const std::string& key) {
  auto it = options.find(key);
  if (it == options.end()) return 0;
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size())
    throw std::invalid_argument("option " + key + "='" + it->second + "' is not a whole number");
  if (value < 0) throw std::invalid_argument("option " + key + " must be >= 0");
  return value;
}

// Option `key` as given (even empty), or `fallback` when it is absent.
inline std::string string_option(const std::map<std::string, std::string>& options, const std::string& key,
                                 const std::string& fallback) {
  auto it = options.find(key);
  return it == options.end() ? fallback : it->second;
}

// Option `key`, which must be given and not empty. Throws
// std::invalid_argument "option KEY is required: WHAT" otherwise; `what`
// says what the option names and where it comes from.
inline std::string required_option(const std::map<std::string, std::string>& options, const std::string& key,
                                   const std::string& what) {
  auto it = options.find(key);
  if (it == options.end() || it->second.empty())
    throw std::invalid_argument("option " + key + " is required: " + what);
  return it->second;
}

// Throws unless the options contain only `allowed` keys.
inline void check_option_keys(const std::map<std::string, std::string>& options,
                              const std::vector<std::string>& allowed) {
  for (const auto& [k, v] : options) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == k;
    if (!ok) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw std::invalid_argument("unknown plugin option '" + k + "' (known options: " + list + ")");
    }
  }
}

}  // namespace torchexam

#define TORCHEXAM_EXPORT_PLUGIN(NAME, CLASS)                                        \
  extern "C" __attribute__((visibility("default"))) const torchexam_plugin_header*  \
  torchexam_plugin_entry(void) {                                                    \
    using E = ::torchexam::detail::Exporter<CLASS>;                                 \
    static const torchexam_plugin_v1 table = {                                      \
        {TORCHEXAM_PLUGIN_ABI_VERSION, sizeof(torchexam_plugin_v1), NAME},          \
        &E::create, &E::destroy, &E::describe, &E::train_split, &E::test_inputs,    \
        &E::score, &E::evaluation, &E::score_with_diagnostics};                     \
    return &table.header;                                                           \
  }
