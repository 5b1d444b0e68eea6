#include "cli/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace torchexam::cli {

std::string format_duration(double s) {
  if (s < 0 || !std::isfinite(s)) return "?";
  auto total = static_cast<long long>(std::lround(s));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

std::string format_metric(const std::optional<double>& metric) {
  return metric ? fmt::format("{:.4f}", *metric) : std::string("-");
}

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ProgressLine::ProgressLine() : ProgressLine(isatty(STDERR_FILENO) != 0) {}
ProgressLine::ProgressLine(bool tty) : tty_(tty) {}
ProgressLine::~ProgressLine() {
  flush_held();
  end_line();
}

void ProgressLine::end_line() {
  if (open_) fmt::print(stderr, "\n");
  open_ = false;
}

void ProgressLine::flush_held() {
  if (held_) fmt::print(stderr, "{}\n", *held_);
  held_.reset();
  std::fflush(stderr);
}

void ProgressLine::stage(std::string_view name) {
  flush_held();
  end_line();
  fmt::print(stderr, "[{}]\n", name);
  std::fflush(stderr);
}

void ProgressLine::log(std::string_view message) {
  flush_held();
  end_line();
  fmt::print(stderr, "  {}\n", message);
  std::fflush(stderr);
}

std::string ProgressLine::format(const events::Progress& p) {
  std::string line = fmt::format("  epoch {}/{}", p.epoch, p.epochs);
  if (p.kind == events::Progress::Kind::batch && p.batches) line += fmt::format("  batch {}/{}", p.batch, p.batches);
  line += fmt::format("  loss {:.4f}", p.loss);
  for (const auto& [k, v] : p.metrics) line += fmt::format("  {} {:.4f}", k, v);
  if (p.samples_per_s > 0) line += fmt::format("  {:.0f} samples/s", p.samples_per_s);
  if (p.eta_s >= 0) line += "  ETA " + format_duration(p.eta_s);
  const double budget = p.elapsed_s + p.budget_left_s;
  if (p.elapsed_s > 0 && budget > 0)
    line += "  " + format_duration(p.elapsed_s) + " of " + format_duration(budget);
  else
    line += "  budget left " + format_duration(p.budget_left_s);
  if (p.eta_s > p.budget_left_s) line += "  (will not fit!)";
  return line;
}

void ProgressLine::progress(const events::Progress& p, std::string_view suffix) {
  const std::string line = format(p) + std::string(suffix);
  const bool epoch = p.kind == events::Progress::Kind::epoch;
  const bool last = epoch && p.epochs > 0 && p.epoch >= p.epochs;
  const bool new_metrics = epoch && !p.metrics.empty() && p.metrics != last_metrics_;
  if (epoch) last_metrics_ = p.metrics;
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", line);
    open_ = true;
    if (new_metrics || last) end_line();
  } else if (new_metrics || last || now_s() - last_print_ >= kQuietSeconds) {
    held_.reset();
    fmt::print(stderr, "{}\n", line);
    last_print_ = now_s();
  } else if (epoch) {
    held_ = line;  // printed if nothing follows it (training ended early)
  }
  std::fflush(stderr);
}

void ProgressPrinter::event(const events::Event& e) {
  if (const auto* p = std::get_if<events::Progress>(&e))
    line_.progress(*p);
  else if (const auto* l = std::get_if<events::Log>(&e))
    line_.log(l->message);
}

}  // namespace torchexam::cli
