#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

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

ProgressLine::ProgressLine() : tty_(isatty(STDERR_FILENO) != 0) {}
ProgressLine::~ProgressLine() { end_line(); }

void ProgressLine::end_line() {
  if (open_) fmt::print(stderr, "\n");
  open_ = false;
}

void ProgressLine::stage(std::string_view name) {
  end_line();
  fmt::print(stderr, "[{}]\n", name);
  std::fflush(stderr);
}

void ProgressLine::log(std::string_view message) {
  end_line();
  fmt::print(stderr, "  {}\n", message);
  std::fflush(stderr);
}

void ProgressLine::progress(const events::Progress& p, std::string_view suffix) {
  std::string line = fmt::format("  epoch {}/{}", p.epoch, p.epochs);
  if (p.kind == events::Progress::Kind::batch && p.batches) line += fmt::format("  batch {}/{}", p.batch, p.batches);
  line += fmt::format("  loss {:.4f}", p.loss);
  for (const auto& [k, v] : p.metrics) line += fmt::format("  {} {:.4f}", k, v);
  if (p.samples_per_s > 0) line += fmt::format("  {:.0f} samples/s", p.samples_per_s);
  if (p.eta_s >= 0) line += "  ETA " + format_duration(p.eta_s);
  line += "  budget left " + format_duration(p.budget_left_s);
  if (p.eta_s > p.budget_left_s) line += "  (will not fit!)";
  line += suffix;
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", line);
    open_ = true;
    if (p.kind == events::Progress::Kind::epoch) end_line();
  } else if (p.kind == events::Progress::Kind::epoch) {
    fmt::print(stderr, "{}\n", line);
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
