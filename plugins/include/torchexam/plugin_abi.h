/*
 * torchexam/plugin_abi.h — the C ABI between the harness and a task plugin.
 *
 * A task plugin is a shared library that exports one symbol,
 *
 *     const torchexam_plugin_header* torchexam_plugin_entry(void);
 *
 * returning a pointer to static storage that lives as long as the library is
 * loaded. The struct begins with `torchexam_plugin_header`; the host reads
 * `abi_version` first and refuses any version it does not speak before it
 * touches another field. For version 1 the pointer is a `torchexam_plugin_v1`.
 *
 * Versions: `abi_version` changes only for an incompatible change (a member
 * removed, moved or given another meaning); the host refuses every other
 * version. A compatible addition appends an optional member at the end of
 * the table and keeps the version: `struct_size` says which members a plugin
 * has. The host reads an appended member only when `struct_size` covers it
 * (TORCHEXAM_PLUGIN_HAS) and the pointer is not NULL; otherwise it applies
 * the default the member's comment states, which is what hosts did before
 * the member existed. A table shorter than the required members
 * (TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE) is refused. So a plugin built against
 * an older header keeps loading and behaving as before, and a newer plugin
 * loads in an older host, which ignores what it does not know.
 *
 * Lifecycle: entry() -> create() -> any number of describe/train_split/
 * test_inputs/score/evaluation/score_with_diagnostics calls -> destroy(). destroy(NULL) is a no-op, so a host
 * may call it on a failed create. A task handle is used by one thread at a
 * time; distinct handles are independent.
 *
 * Errors: every call that can fail returns 0 on success and non-zero on
 * failure. On failure, if `error` is not NULL, `*error` is set to a message
 * allocated with malloc(); the caller owns it and releases it with free().
 * On success `*error` is left untouched. No C++ exception crosses this
 * boundary: a plugin catches everything and turns it into an error.
 *
 * Which side calls what: every call runs in the trusted harness; no process
 * that runs candidate code loads a plugin. describe, train_split and
 * test_inputs are called when the harness stages a task (harness/grading/staging.hpp)
 * and their results are written to files the sandboxed runner reads, so they
 * must be deterministic for the same plugin file, options and data, and must
 * never return labels of the hidden split. score and score_with_diagnostics
 * are the only calls that read hidden labels.
 */
#ifndef TORCHEXAM_PLUGIN_ABI_H
#define TORCHEXAM_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TORCHEXAM_PLUGIN_ABI_VERSION 1u
#define TORCHEXAM_MAX_DIMS 8

typedef enum torchexam_dtype {
  TORCHEXAM_DTYPE_FLOAT32 = 1,
  TORCHEXAM_DTYPE_INT64 = 2,
  TORCHEXAM_DTYPE_UINT8 = 3
} torchexam_dtype;

/* A dense, C-contiguous array. Arrays a plugin returns (train_split,
 * test_inputs) are owned by the caller, which calls release(self) exactly once
 * when done. Arrays passed into a plugin (the predictions given to score) are
 * borrowed: the host passes them with release = NULL, and the plugin must not
 * keep or free them. */
typedef struct torchexam_array {
  int32_t dtype; /* torchexam_dtype */
  int32_t ndim;
  int64_t shape[TORCHEXAM_MAX_DIMS];
  void* data;
  void (*release)(struct torchexam_array* self);
  void* producer_state; /* opaque to the consumer */
} torchexam_array;

/* The shape and dtype of one tensor; a dimension of -1 is free (the batch). */
typedef struct torchexam_tensor_spec {
  int32_t dtype;
  int32_t ndim;
  int64_t shape[TORCHEXAM_MAX_DIMS];
} torchexam_tensor_spec;

/* What a task is. Strings are owned by the task handle and valid until
 * destroy(). */
typedef struct torchexam_task_info {
  const char* name;
  const char* title;
  torchexam_tensor_spec input;  /* a batch of model inputs */
  torchexam_tensor_spec output; /* what the model must return for that batch */
  torchexam_tensor_spec target; /* the training targets */
  const char* metric_name;
  int32_t higher_is_better; /* 1: a larger metric is better; 0: smaller */
} torchexam_task_info;

typedef struct torchexam_task torchexam_task; /* opaque */

/* How the hidden test inputs may be presented to the candidate's model when
 * it is evaluated. The runner calls the model's forward() on consecutive
 * slices of the test inputs; this bounds those slices. A model may keep state
 * across calls, so a bound on one call alone does not stop one sample's input
 * from reaching another's forecast: order matters too.
 *
 * For tasks whose test samples overlap in time (a later sample's inputs hold
 * an earlier sample's targets), declare {1, 1}: one sample per call, in the
 * order test_inputs gave them (time order), so when the model forecasts a
 * sample it has seen only inputs from before it. */
typedef struct torchexam_evaluation {
  int64_t max_batch; /* most test samples per forward() call; 0: any number */
  int32_t in_order;  /* 1: the samples are presented once each, in the order
                        test_inputs gave them; 0: any order */
  int32_t reserved;  /* 0 */
} torchexam_evaluation;

typedef struct torchexam_plugin_header {
  uint32_t abi_version; /* TORCHEXAM_PLUGIN_ABI_VERSION the plugin was built for */
  uint32_t struct_size; /* sizeof the versioned struct this header starts */
  const char* plugin_name;
} torchexam_plugin_header;

typedef struct torchexam_plugin_v1 {
  torchexam_plugin_header header;

  /* Options are n key/value pairs of NUL-terminated strings, copied by the
   * plugin. Unknown keys are an error. Returns NULL on failure. */
  torchexam_task* (*create)(const char* const* keys, const char* const* values,
                            size_t n, char** error);
  void (*destroy)(torchexam_task* task);

  int (*describe)(const torchexam_task* task, torchexam_task_info* out,
                  char** error);

  /* The whole training split: inputs [N, ...input] and targets [N, ...]. */
  int (*train_split)(torchexam_task* task, torchexam_array* inputs,
                     torchexam_array* targets, char** error);

  /* The hidden test inputs, never their labels. */
  int (*test_inputs)(torchexam_task* task, torchexam_array* inputs,
                     char** error);

  /* Scores predictions for the hidden test inputs, in the order test_inputs
   * gave them, against the hidden labels. Trusted side only. The plugin
   * validates the predictions' dtype and shape and fails with a message when
   * they do not match. */
  int (*score)(torchexam_task* task, const torchexam_array* predictions,
               double* metric, char** error);

  /* ---- Optional members: read only when struct_size covers them. ---- */

  /* How the test inputs may be presented to the model (torchexam_evaluation).
   * Called by the stager; the answer is staged with the task. Must be
   * deterministic, like describe. Absent (a table that ends before it) or
   * NULL: {0, 0}, any batching and any order. `out` is zeroed by the host. */
  int (*evaluation)(const torchexam_task* task, torchexam_evaluation* out,
                    char** error);

  /* Scores like `score` and also returns the task's diagnostics: aggregates
   * of the predictions against the hidden labels (a confusion matrix, the
   * error per target range or per forecast step), as one JSON text in the
   * shape docs/plugins.md gives ("Task diagnostics"). Trusted side only.
   * Aggregates only: never a hidden sample, a hidden label or a per-sample
   * target.
   *
   * The host sets *diagnostics_json to NULL before the call. On success
   * *metric is set, and *diagnostics_json is either left NULL (no
   * diagnostics for this grading) or set to a NUL-terminated UTF-8 JSON text
   * allocated with malloc(); the caller owns it and releases it with free().
   * On failure, as score: non-zero, *error set as for every call, and
   * *diagnostics_json left NULL (a host frees it anyway if it is not).
   *
   * The host validates the text; a malformed or oversized one is dropped
   * with a note in the grading's log, and the metric stands. Absent (a
   * table that ends before it) or NULL: the host calls score and the
   * grading has no diagnostics. */
  int (*score_with_diagnostics)(torchexam_task* task,
                                const torchexam_array* predictions,
                                double* metric, char** diagnostics_json,
                                char** error);
} torchexam_plugin_v1;

/* The size of a version-1 table with only its required members. */
#define TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE \
  (offsetof(torchexam_plugin_v1, score) + sizeof(((torchexam_plugin_v1*)0)->score))

/* Non-zero when a table of `struct_size` bytes has the member `member`. */
#define TORCHEXAM_PLUGIN_HAS(struct_size, member)                        \
  ((size_t)(struct_size) >= offsetof(torchexam_plugin_v1, member) +      \
                                sizeof(((torchexam_plugin_v1*)0)->member))

typedef const torchexam_plugin_header* (*torchexam_plugin_entry_fn)(void);
#define TORCHEXAM_PLUGIN_ENTRY_SYMBOL "torchexam_plugin_entry"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TORCHEXAM_PLUGIN_ABI_H */
