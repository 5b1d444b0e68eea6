// Fakes for testing the exam's pieces alone: a JobRunner the test ends jobs
// of by hand, a listener that records every note, environments made in
// code, and a store in a temporary folder.
#pragma once

#include "exam/job_queue.hpp"
#include "exam/listener.hpp"
#include "exam/states.hpp"
#include "idx_writer.hpp"  // temp_dir
#include "store/store.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::test {

// Starts nothing: remembers each job until the test ends it.
struct FakeRunner final : JobRunner {
  struct Started {
    Job job;
    store::SubmissionRecord rec;  // as the queue marked it running
    Done done;
  };
  std::vector<Started> started;  // in the order they started
  std::set<int64_t> refuse;      // start() throws for these submissions
  std::vector<std::set<int64_t>> prunes;

  void start(const Job& job, const store::SubmissionRecord& rec, Done done) override {
    if (refuse.count(job.id)) throw std::runtime_error("disk full");
    started.push_back({job, rec, std::move(done)});
  }
  void prune(const std::set<int64_t>& busy) override { prunes.push_back(busy); }

  std::vector<int64_t> started_ids() const {
    std::vector<int64_t> ids;
    for (const auto& s : started) ids.push_back(s.job.id);
    return ids;
  }
  Started& of(int64_t id) {
    auto it = std::find_if(started.begin(), started.end(), [&](const Started& s) { return s.job.id == id; });
    if (it == started.end()) throw std::runtime_error("job " + std::to_string(id) + " never started");
    return *it;
  }
  // Reports the job's end as its grader would (once per job).
  void end(int64_t id, JobOutcome outcome) {
    auto done = std::move(of(id).done);  // done() may start more jobs: `started` grows
    done(std::move(outcome));
  }
  void grade(int64_t id, int score) {
    JobOutcome o;
    o.result.verdict = Verdict::ok;
    o.result.score = score;
    o.result.metric = score / 5.0;
    end(id, std::move(o));
  }
  void cancelled(int64_t id) {
    JobOutcome o;
    o.result.cancelled = true;
    end(id, std::move(o));
  }
};

struct NoteRecorder final : ExamListener {
  std::vector<ProgressNote> progress;
  std::vector<store::SubmissionRecord> finished;
  std::vector<std::optional<int>> warnings;
  int timer_notes = 0;
  std::vector<store::SessionRecord> closed;
  void on_progress(const ProgressNote& n) override { progress.push_back(n); }
  void on_finished(const store::SubmissionRecord& r) override { finished.push_back(r); }
  void on_timer(const store::SessionRecord&, double, std::optional<int> w) override {
    ++timer_notes;
    if (w) warnings.push_back(w);
  }
  void on_closed(const store::SessionRecord& s) override { closed.push_back(s); }
};

// One task, `t`, graded here, or by a cluster that takes `cluster_jobs` at once.
inline std::shared_ptr<const config::Environment> fake_environment(double duration_s = 3600,
                                                                   std::optional<int> cluster_jobs = std::nullopt) {
  auto env = std::make_shared<config::Environment>();
  env->name = "fake";
  env->duration_s = duration_s;
  config::TaskConfig t;
  t.id = "t";
  env->tasks.push_back(t);
  if (cluster_jobs) {
    env->grading.backend = config::Grading::Backend::slurm;
    env->grading.slurm.max_jobs = *cluster_jobs;
  }
  return env;
}

// Passes every call to `inner`, but sessions() gives `sessions` when set:
// a record the real store's schema would refuse to hold.
struct StoreWithSessions final : store::Store {
  store::Store& inner;
  std::vector<store::SessionRecord> sessions_read;
  StoreWithSessions(store::Store& s, std::vector<store::SessionRecord> read) : inner(s), sessions_read(std::move(read)) {}
  int schema_version() const override { return inner.schema_version(); }
  std::unique_ptr<Store> reopen() const override { return inner.reopen(); }
  void put_session(const store::SessionRecord& s) override { inner.put_session(s); }
  std::optional<store::SessionRecord> session(const std::string& id) const override { return inner.session(id); }
  std::vector<store::SessionRecord> sessions() const override { return sessions_read; }
  int64_t add_submission(const store::SubmissionRecord& s) override { return inner.add_submission(s); }
  void update_submission(const store::SubmissionRecord& s) override { inner.update_submission(s); }
  std::optional<store::SubmissionRecord> submission(int64_t id) const override { return inner.submission(id); }
  std::vector<store::SubmissionRecord> submissions(const std::string& id, const std::string& task) const override {
    return inner.submissions(id, task);
  }
  std::vector<store::SubmissionRecord> unfinished_submissions() const override {
    return inner.unfinished_submissions();
  }
  void finish_submission(const store::SubmissionRecord& s) override { inner.finish_submission(s); }
  std::optional<store::JudgingRecord> judging(int64_t id) const override { return inner.judging(id); }
  std::vector<store::JudgingRecord> judgings(int64_t id) const override { return inner.judgings(id); }
  int64_t add_rejudge(const store::RejudgeRecord& r, const std::vector<store::RejudgeItemRecord>& items) override {
    return inner.add_rejudge(r, items);
  }
  std::optional<store::RejudgeRecord> rejudge(int64_t id) const override { return inner.rejudge(id); }
  std::vector<store::RejudgeRecord> rejudges() const override { return inner.rejudges(); }
  std::vector<store::RejudgeItemRecord> rejudge_items(int64_t id) const override { return inner.rejudge_items(id); }
  void set_rejudge_state(int64_t id, const std::string& state) override { inner.set_rejudge_state(id, state); }
  void set_rejudge_item_state(int64_t id, int64_t submission, const std::string& state) override {
    inner.set_rejudge_item_state(id, submission, state);
  }
  int64_t finish_rejudge_item(int64_t id, store::JudgingRecord j, const std::string& note) override {
    return inner.finish_rejudge_item(id, std::move(j), note);
  }
  void apply_rejudge(int64_t id, const std::vector<int64_t>& live, const std::vector<store::SubmissionRecord>& s) override {
    inner.apply_rejudge(id, live, s);
  }
  void add_events(const std::vector<Event>& events) override { inner.add_events(events); }
  std::vector<std::string> events(int64_t id) const override { return inner.events(id); }
  std::string put_artifact(std::string_view bytes) override { return inner.put_artifact(bytes); }
  std::optional<std::string> get_artifact(const std::string& hash) const override { return inner.get_artifact(hash); }
  std::filesystem::path artifact_path(const std::string& hash) const override { return inner.artifact_path(hash); }
  void add_credential(const store::CredentialRecord& c) override { inner.add_credential(c); }
  std::optional<store::CredentialRecord> credential(const std::string& selector) const override {
    return inner.credential(selector);
  }
  std::vector<store::CredentialRecord> credentials() const override { return inner.credentials(); }
  int revoke_credentials(const std::string& who, int64_t at_ms) override { return inner.revoke_credentials(who, at_ms); }
};

// A store in a temporary folder, with session `s1` in it (submissions need one).
struct StoreFixture {
  std::filesystem::path root;
  std::unique_ptr<store::Store> db;
  explicit StoreFixture(const std::string& name) : root(temp_dir(name)), db(store::Store::open(root / "state")) {}
  ~StoreFixture() {
    db.reset();
    std::filesystem::remove_all(root);
  }
  void put_session(const std::string& id, SessionState state = SessionState::running) {
    store::SessionRecord s;
    s.id = id;
    s.environment_dir = (root / "env").string();
    s.workspace = (root / ("ws-" + id)).string();
    s.mode = "practice";
    s.started_at_ms = 1'800'000'000'000;
    s.duration_ms = 3600'000;
    set_state(s, state);
    db->put_session(s);
  }
  store::SubmissionRecord submission(int64_t id) const { return *db->submission(id); }
};

}  // namespace torchexam::test
