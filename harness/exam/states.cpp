#include "exam/states.hpp"

#include "exam/service_error.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace torchexam {
namespace {

// Each enum's names, in one table that both directions read.
constexpr std::array<std::pair<SessionState, std::string_view>, 4> kSessionStates{{
    {SessionState::running, "running"},
    {SessionState::paused, "paused"},
    {SessionState::closed, "closed"},
    {SessionState::stopped, "stopped"},
}};

constexpr std::array<std::pair<SubmissionState, std::string_view>, 5> kSubmissionStates{{
    {SubmissionState::queued, "queued"},
    {SubmissionState::running, "running"},
    {SubmissionState::finished, "finished"},
    {SubmissionState::cancelled, "cancelled"},
    {SubmissionState::interrupted, "interrupted"},
}};

constexpr std::array<std::pair<SessionMode, std::string_view>, 2> kSessionModes{{
    {SessionMode::practice, "practice"},
    {SessionMode::exam, "exam"},
}};

constexpr std::array<std::pair<Stage, std::string_view>, 6> kStages{{
    {Stage::queued, "queued"},
    {Stage::stage, "stage"},
    {Stage::build, "build"},
    {Stage::train, "train"},
    {Stage::evaluate, "evaluate"},
    {Stage::score, "score"},
}};

constexpr std::array<std::pair<RejudgeKind, std::string_view>, 2> kRejudgeKinds{{
    {RejudgeKind::rescore, "rescore"},
    {RejudgeKind::retrain, "retrain"},
}};

constexpr std::array<std::pair<RejudgeState, std::string_view>, 4> kRejudgeStates{{
    {RejudgeState::running, "running"},
    {RejudgeState::review, "review"},
    {RejudgeState::applied, "applied"},
    {RejudgeState::cancelled, "cancelled"},
}};

constexpr std::array<std::pair<RejudgeItemState, std::string_view>, 3> kRejudgeItemStates{{
    {RejudgeItemState::queued, "queued"},
    {RejudgeItemState::running, "running"},
    {RejudgeItemState::done, "done"},
}};

template <class E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "unknown";  // unreachable for a value of the enum
}

template <class E, size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view text) {
  for (const auto& [e, name] : table)
    if (name == text) return e;
  return std::nullopt;
}

template <class E, size_t N>
std::string names_in(const std::array<std::pair<E, std::string_view>, N>& table) {
  std::string out;
  for (const auto& [e, name] : table) out.append(out.empty() ? "" : ", ").append(name);
  return out;
}

[[noreturn]] void unknown_state(const std::string& record, const std::string& text) {
  throw ServiceError(ServiceError::Kind::invalid_state,
                     fmt::format("{} has the unknown state '{}' in the store (written by a newer torchexam?)", record,
                                 text));
}

}  // namespace

std::string_view to_string(SessionState s) { return name_of(kSessionStates, s); }
std::string_view to_string(SubmissionState s) { return name_of(kSubmissionStates, s); }
std::optional<SessionState> parse_session_state(std::string_view text) { return value_of(kSessionStates, text); }
std::optional<SubmissionState> parse_submission_state(std::string_view text) {
  return value_of(kSubmissionStates, text);
}

std::string_view to_string(Stage s) { return name_of(kStages, s); }
std::optional<Stage> parse_stage(std::string_view text) { return value_of(kStages, text); }
std::string session_state_names() { return names_in(kSessionStates); }
std::string submission_state_names() { return names_in(kSubmissionStates); }
std::string stage_names() { return names_in(kStages); }

bool is_open(SessionState s) { return s == SessionState::running || s == SessionState::paused; }

SessionState state_of(const store::SessionRecord& r) {
  if (auto s = parse_session_state(r.state)) return *s;
  unknown_state("exam session " + r.id, r.state);
}

SubmissionState state_of(const store::SubmissionRecord& r) {
  if (auto s = parse_submission_state(r.state)) return *s;
  unknown_state("submission " + std::to_string(r.id), r.state);
}

void set_state(store::SessionRecord& r, SessionState s) { r.state = std::string(to_string(s)); }
void set_state(store::SubmissionRecord& r, SubmissionState s) { r.state = std::string(to_string(s)); }

std::string_view to_string(RejudgeKind k) { return name_of(kRejudgeKinds, k); }
std::string_view to_string(RejudgeState s) { return name_of(kRejudgeStates, s); }
std::string_view to_string(RejudgeItemState s) { return name_of(kRejudgeItemStates, s); }
std::optional<RejudgeKind> parse_rejudge_kind(std::string_view text) { return value_of(kRejudgeKinds, text); }
std::optional<RejudgeState> parse_rejudge_state(std::string_view text) { return value_of(kRejudgeStates, text); }
std::optional<RejudgeItemState> parse_rejudge_item_state(std::string_view text) {
  return value_of(kRejudgeItemStates, text);
}
std::string rejudge_kind_names() { return names_in(kRejudgeKinds); }
std::string rejudge_state_names() { return names_in(kRejudgeStates); }
std::string rejudge_item_state_names() { return names_in(kRejudgeItemStates); }

RejudgeKind kind_of(const store::RejudgeRecord& r) {
  if (auto k = parse_rejudge_kind(r.kind)) return *k;
  unknown_state("regrade set " + std::to_string(r.id) + " (its kind)", r.kind);
}

RejudgeState state_of(const store::RejudgeRecord& r) {
  if (auto s = parse_rejudge_state(r.state)) return *s;
  unknown_state("regrade set " + std::to_string(r.id), r.state);
}

RejudgeItemState state_of(const store::RejudgeItemRecord& r) {
  if (auto s = parse_rejudge_item_state(r.state)) return *s;
  unknown_state(fmt::format("submission {} of regrade set {}", r.submission_id, r.rejudge_id), r.state);
}

std::string_view to_string(SessionMode m) { return name_of(kSessionModes, m); }
std::optional<SessionMode> parse_session_mode(std::string_view text) { return value_of(kSessionModes, text); }

SessionMode mode_of(const store::SessionRecord& r) {
  if (auto m = parse_session_mode(r.mode)) return *m;
  throw ServiceError(ServiceError::Kind::invalid_state,
                     fmt::format("exam session {} has the unknown mode '{}' in the store (written by a newer "
                                 "torchexam?)",
                                 r.id, r.mode));
}

}  // namespace torchexam
