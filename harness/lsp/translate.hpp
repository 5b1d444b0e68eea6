// translate.hpp — pure functions from what the daemon says to what an editor
// shows: diagnostics, lens titles, progress text, end-of-grading messages.
// No I/O and no state, so every wording and line mapping is unit-tested.
#pragma once

#include "lsp/lsp_types.hpp"
#include "protocol/messages.hpp"

#include <filesystem>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::lsp {

// The task with this id, or the one whose folder holds `file`; nullptr if none.
const TaskSummary* find_task(const protocol::ExamStatus& st, const std::string& id);
const TaskSummary* task_of(const protocol::ExamStatus& st, const std::filesystem::path& file);

// A compiler diagnostic (1-based line and column, 0 = unknown) as an LSP one.
Diagnostic to_lsp(const torchexam::Diagnostic& d, std::string code);
std::vector<Diagnostic> to_lsp(const std::vector<torchexam::Diagnostic>& ds, const std::string& code);

// The diagnostics a finished submission leaves on its source file, whose
// current text is `source`: compiler errors at their lines (the daemon names
// its snapshot; the line is the candidate's), `contract` at the model
// definition, `runtime_error` at the candidate's frame when the message names
// one (solution.cpp:LINE) else at train(). Empty for any other verdict.
std::vector<Diagnostic> submission_diagnostics(const protocol::Submission& s, std::string_view source);

// "best 4/5 · last: timeout", or "best 0/5 · not submitted yet".
std::string lens_title(const TaskSummary& t);

// One line for a progress note: "queued (position 2)", "building",
// "training: epoch 2/3 · batch 301/469 · loss 0.4019 · ETA 2s", ...
std::string progress_message(const ProgressNote& p);
// 0..100 across the whole grading (build, train by epochs and batches,
// evaluate, score); nullopt while queued.
std::optional<int> progress_percentage(const ProgressNote& p);

// "fashion_mnist: 3/5 (ok) — accuracy 0.8558 on the hidden test data: score 3/5"
std::string finished_message(const protocol::Finished& f);
MessageType finished_type(const protocol::Finished& f);

// A task's submissions as a Markdown table (the history report).
std::string history_markdown(const std::string& task, const std::vector<protocol::SubmissionInfo>& submissions);

// "4h 59m", "9m 30s", "45s".
std::string remaining_text(double seconds);

}  // namespace torchexam::lsp
