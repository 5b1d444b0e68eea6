// A plugin built against an older version-1 table: its own copy of that
// table, struct_size covering only what it has. Built twice:
// - as it was before the optional `evaluation` member (the required members
//   only): the host must load it and apply the default policy (any
//   batching, any order);
// - with TORCHEXAM_TEST_WITH_EVALUATION, as it was before the optional
//   `score_with_diagnostics` member: the host must score it through `score`
//   and record no diagnostics.
// A tiny task: 4 training samples of 2 features, 3 test samples, metric 0
// (0.25 for the second build).
#include <torchexam/plugin_abi.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace {

struct OldTable {  // torchexam_plugin_v1 before `evaluation`
  torchexam_plugin_header header;
  torchexam_task* (*create)(const char* const*, const char* const*, size_t, char**);
  void (*destroy)(torchexam_task*);
  int (*describe)(const torchexam_task*, torchexam_task_info*, char**);
  int (*train_split)(torchexam_task*, torchexam_array*, torchexam_array*, char**);
  int (*test_inputs)(torchexam_task*, torchexam_array*, char**);
  int (*score)(torchexam_task*, const torchexam_array*, double*, char**);
};
static_assert(sizeof(OldTable) == TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE, "the required members are the old table");

struct TableBeforeDiagnostics {  // torchexam_plugin_v1 before `score_with_diagnostics`
  OldTable required;
  int (*evaluation)(const torchexam_task*, torchexam_evaluation*, char**);
};
static_assert(sizeof(TableBeforeDiagnostics) == offsetof(torchexam_plugin_v1, score_with_diagnostics),
              "the table before score_with_diagnostics ends with evaluation");

#ifdef TORCHEXAM_TEST_WITH_EVALUATION
constexpr const char* kName = "before_diagnostics";
constexpr double kMetric = 0.25;
#else
constexpr const char* kName = "old";
constexpr double kMetric = 0;
#endif

int g_task;  // the handle points here

void fill(torchexam_array* a, int32_t dtype, int32_t ndim, const int64_t* shape, size_t bytes) {
  std::memset(a, 0, sizeof *a);
  a->dtype = dtype;
  a->ndim = ndim;
  for (int32_t i = 0; i < ndim; ++i) a->shape[i] = shape[i];
  a->data = std::calloc(1, bytes);
  a->release = [](torchexam_array* self) {
    std::free(self->data);
    self->data = nullptr;
  };
}

torchexam_task* create(const char* const*, const char* const*, size_t, char**) {
  return reinterpret_cast<torchexam_task*>(&g_task);
}
void destroy(torchexam_task*) {}
int describe(const torchexam_task*, torchexam_task_info* out, char**) {
  std::memset(out, 0, sizeof *out);
  out->name = kName;
  out->title = "a plugin built against an older table";
  out->input = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 2}};
  out->output = {TORCHEXAM_DTYPE_FLOAT32, 1, {-1}};
  out->target = {TORCHEXAM_DTYPE_FLOAT32, 1, {-1}};
  out->metric_name = "mae";
  out->higher_is_better = 0;
  return 0;
}
int train_split(torchexam_task*, torchexam_array* x, torchexam_array* y, char**) {
  const int64_t xs[] = {4, 2}, ys[] = {4};
  fill(x, TORCHEXAM_DTYPE_FLOAT32, 2, xs, 8 * sizeof(float));
  fill(y, TORCHEXAM_DTYPE_FLOAT32, 1, ys, 4 * sizeof(float));
  return 0;
}
int test_inputs(torchexam_task*, torchexam_array* x, char**) {
  const int64_t xs[] = {3, 2};
  fill(x, TORCHEXAM_DTYPE_FLOAT32, 2, xs, 6 * sizeof(float));
  return 0;
}
int score(torchexam_task*, const torchexam_array*, double* metric, char**) {
  *metric = kMetric;
  return 0;
}
[[maybe_unused]] int evaluation(const torchexam_task*, torchexam_evaluation* out, char**) {
  out->max_batch = 0;
  out->in_order = 0;
  return 0;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const torchexam_plugin_header* torchexam_plugin_entry(void) {
#ifdef TORCHEXAM_TEST_WITH_EVALUATION
  static const TableBeforeDiagnostics table = {
      {{TORCHEXAM_PLUGIN_ABI_VERSION, sizeof(TableBeforeDiagnostics), kName},
       &create, &destroy, &describe, &train_split, &test_inputs, &score},
      &evaluation};
  return &table.required.header;
#else
  static const OldTable table = {{TORCHEXAM_PLUGIN_ABI_VERSION, sizeof(OldTable), kName},
                                 &create, &destroy, &describe, &train_split, &test_inputs, &score};
  return &table.header;
#endif
}
