// The report (harness/report/): the ladder and training figures it
// computes, its JSON against a golden file of a hand-made session, an HTML
// page that loads nothing and runs nothing, the same bytes for the same
// data, task diagnostics hidden under metric_only, and the SVG writer's
// escaping. The daemon's side: report/data's progress events thinned.
#include <doctest/doctest.h>

#include "daemon/report_source.hpp"
#include "report/charts.hpp"
#include "report/model.hpp"
#include "report/render.hpp"
#include "report/report_file.hpp"
#include "report/svg.hpp"
#include "sandbox/text.hpp"

#include "../report/sample_session.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::report;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Pretty-printed so that a golden-file difference reads line by line.
void pretty(std::ostream& out, const json::value& v, int indent = 0) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) return void(out << "{}");
    out << "{\n";
    size_t i = 0;
    for (const auto& [k, x] : o) {
      out << pad << "  " << json::serialize(json::value(k)) << ": ";
      pretty(out, x, indent + 1);
      out << (++i < o.size() ? ",\n" : "\n");
    }
    out << pad << "}";
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) return void(out << "[]");
    out << "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out << pad << "  ";
      pretty(out, a[i], indent + 1);
      out << (i + 1 < a.size() ? ",\n" : "\n");
    }
    out << pad << "]";
  } else {
    out << json::serialize(v);
  }
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("the ladder: bands, where the metric lands and how far the next band is, either direction") {
    TaskSummary acc;
    acc.metric = "accuracy";
    acc.ladder = {0.78, 0.82, 0.85, 0.89, 0.91};
    LadderView l = ladder_view(acc, 0.8731, 3);
    CHECK(l.higher_is_better);
    REQUIRE(l.bands.size() == 6);
    CHECK_FALSE(l.bands[0].low);
    CHECK(*l.bands[0].high == 0.78);
    CHECK(*l.bands[3].low == 0.85);
    CHECK(*l.bands[3].high == 0.89);
    CHECK(*l.bands[5].low == 0.91);
    CHECK_FALSE(l.bands[5].high);
    CHECK(l.next_score == 4);
    CHECK(l.next_threshold == 0.89);
    CHECK(*l.to_next == doctest::Approx(0.0169));

    TaskSummary mae;
    mae.metric = "mae";
    mae.ladder = {4.0, 3.0, 2.5, 2.1, 1.85};
    l = ladder_view(mae, 2.3412, 3);
    CHECK_FALSE(l.higher_is_better);
    CHECK(*l.bands[0].low == 4.0);  // score 0: above 4
    CHECK_FALSE(l.bands[0].high);
    CHECK(*l.bands[3].low == 2.1);
    CHECK(*l.bands[3].high == 2.5);
    CHECK(l.next_score == 4);
    CHECK(*l.to_next == doctest::Approx(0.2412));

    l = ladder_view(mae, 1.2, 5);  // the top band: nothing next
    CHECK_FALSE(l.next_score);
    CHECK_FALSE(l.to_next);
    l = ladder_view(mae, std::nullopt, 0);  // no metric (a failed run): no marker, no next
    CHECK_FALSE(l.metric);
    CHECK_FALSE(l.next_score);
    l = ladder_view(mae, std::nan(""), 0);
    CHECK_FALSE(l.metric);
  }

  TEST_CASE("training: raw and smoothed loss per batch note, epochs with samples/s, time against the budget") {
    std::vector<events::Progress> ev(4);
    ev[0].loss = 2.0, ev[0].epoch = 1, ev[0].elapsed_s = 1;
    ev[1].loss = std::nan(""), ev[1].epoch = 1, ev[1].elapsed_s = 2;
    ev[2].loss = 1.0, ev[2].epoch = 1, ev[2].elapsed_s = 3;
    ev[3].kind = events::Progress::Kind::epoch, ev[3].epoch = 1, ev[3].loss = 1.5, ev[3].samples_per_s = 1234,
    ev[3].elapsed_s = 3.5, ev[3].metrics = {{"val_accuracy", 0.8}};
    const TrainingView t = training_view(ev, test::curve_of(ev), 60, 99);
    REQUIRE(t.loss.size() == 3);  // batch notes only
    CHECK(t.loss[0].smoothed == 2.0);
    CHECK(std::isnan(t.loss[1].loss));
    CHECK(t.loss[1].smoothed == 2.0);  // a null loss leaves the average
    CHECK(t.loss[2].smoothed == doctest::Approx(0.9 * 2.0 + 0.1 * 1.0));
    CHECK(t.loss[2].step == 3);
    REQUIRE(t.epochs.size() == 1);
    CHECK(t.epochs[0].samples_per_s == 1234);
    CHECK(t.epochs[0].metrics.at("val_accuracy") == 0.8);
    CHECK(t.metric_names == std::vector<std::string>{"val_accuracy"});
    CHECK(t.time_used_s == 3.5);  // the runner's own clock, not the phase's wall time
    CHECK(t.budget_s == 60);
    CHECK(training_view({}, {}, 60, 99).time_used_s == 99);  // no events: the phase's time
  }

  TEST_CASE("the JSON of a hand-made session: golden file and the figures that matter") {
    const Report r = build_report(test::sample_session());
    const json::value v = json::value_from(r);
    std::ostringstream text;
    pretty(text, v);
    text << "\n";
    CHECK(is_valid_utf8(text.str()));
    const fs::path golden = fs::path(TORCHEXAM_TEST_DATA_DIR) / "report" / "session.json";
    if (std::getenv("TORCHEXAM_UPDATE_GOLDEN")) {
      std::ofstream(golden, std::ios::binary) << text.str();
      MESSAGE("rewrote " << golden.string());
    }
    CHECK(text.str() == read_file(golden));

    CHECK(v.at("scope") == "session");
    CHECK(v.at("session").at("total_score") == 10);
    CHECK(v.at("session").at("max_score") == 25);
    CHECK(v.at("session").at("pass_mark") == 15);
    CHECK(v.at("history").as_array().size() == 5);
    CHECK(v.at("history").at(1).at("exam_time_s").to_number<double>() == 3900);
    CHECK(v.at("history").at(1).at("time_left_s").to_number<double>() == 18000 - 3900);
    const auto& subs = v.at("submissions").as_array();
    REQUIRE(subs.size() == 4);
    CHECK(subs[1].at("submission") == 2);
    CHECK(subs[1].at("ladder").at("next_score") == 4);
    CHECK(subs[1].at("task_diagnostics").at("kind") == "classification");
    CHECK(subs[1].at("fingerprint").at("seed") == 42);
    CHECK(subs[1].at("training").at("loss").as_array().size() == 120);
    CHECK(subs[1].at("training").at("epochs").as_array().size() == 4);
    CHECK(subs[2].at("failed") == true);
    CHECK(subs[2].at("diagnostics").as_array().size() == 2);
    CHECK(subs[2].at("training").is_null());
  }

  TEST_CASE("the HTML loads nothing and runs nothing, and escapes the candidate's text") {
    const std::string html = render_html(build_report(test::sample_session()));
    CHECK(is_valid_utf8(html));
    CHECK(html.find("http://") == std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("src=") == std::string::npos);
    CHECK(html.find("url(") == std::string::npos);
    CHECK(html.find("@import") == std::string::npos);
    CHECK(html.find("<link") == std::string::npos);
    CHECK(html.find("Content-Security-Policy\" content=\"default-src 'none'") != std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; \xef\xbf\xbd") !=
          std::string::npos);
    // Every part is there: the session, the timeline, the ladder, curves, diagnostics, the footer.
    for (const char* part : {"Exam result", "Score timeline", "Score on the ladder", "Training loss per reported step",
                             "Metrics per epoch", "Throughput per epoch", "Training time used", "Confusion matrix",
                             "Precision, recall and F1 per class", "Error by target range", "Error per forecast step",
                             "Residuals", "What this grading depended on", "Why it failed"})
      CHECK_MESSAGE(html.find(part) != std::string::npos, part);
    // Every chart is named for a screen reader and has its numbers in a table.
    CHECK(count(html, "<svg ") == count(html, "role=\"img\" aria-labelledby="));
    CHECK(count(html, "<details>") >= 10);
    CHECK(html.find("Why it failed") < html.find("Score on the ladder", html.find("id=\"submission-3\"")));
  }

  TEST_CASE("the same data gives the same bytes, also after the data's round trip through JSON") {
    protocol::ReportData d = test::sample_session();
    // On the wire every string is UTF-8 already (grade_json.hpp): as the daemon sends it.
    for (auto& h : d.history) h.message = to_valid_utf8(h.message);
    for (auto& s : d.details) {
      s.message = to_valid_utf8(s.message);
      s.result->grade.message = to_valid_utf8(s.result->grade.message);
      for (auto& g : s.result->grade.diagnostics) g.message = to_valid_utf8(g.message);
    }
    const std::string a = render_html(build_report(d));
    const std::string b = render_html(build_report(d));
    CHECK(a == b);
    const auto again = json::value_to<protocol::ReportData>(json::parse(json::serialize(json::value_from(d))));
    CHECK(render_html(build_report(again)).size() == a.size());
    CHECK(json::serialize(json::value_from(build_report(again))) == json::serialize(json::value_from(build_report(d))));
  }

  TEST_CASE("metric_only: the task diagnostics are hidden, the metric and the curves stay") {
    protocol::ReportData d = test::sample_session();
    d.diagnostics_visible = false;
    const Report r = build_report(d);
    for (const auto& s : r.submissions) {
      CHECK_FALSE(s.task_diagnostics);
      CHECK(s.task_diagnostics_hidden);
    }
    const json::value v = json::value_from(r);
    CHECK(v.at("submissions").at(1).at("task_diagnostics").is_null());
    const std::string html = render_html(r);
    CHECK(html.find("Confusion matrix") == std::string::npos);
    CHECK(html.find("Error per forecast step") == std::string::npos);
    CHECK(html.find("shows the metric only until it closes") != std::string::npos);
    CHECK(html.find("Score on the ladder") != std::string::npos);
    CHECK(html.find("Training loss per reported step") != std::string::npos);
  }

  TEST_CASE("the SVG writer escapes every string and spells numbers one way") {
    CHECK(escape("&<>\"'") == "&amp;&lt;&gt;&quot;&#39;");
    CHECK(escape("a\xff" "b") == "a\xef\xbf\xbd" "b");
    CHECK(escape("héllo") == "héllo");
    CHECK(num(-0.001) == "0.00");
    CHECK(num(std::nan("")) == "0.00");
    CHECK(num(1.0 / 0.0) == "0.00");
    CHECK(num(2.345, 1) == "2.3");
    CHECK(num(-1.5) == "-1.50");
    Svg svg("c\"1", 100, 50, "a <title>", "it's \"quoted\"");
    svg.text(1, 2, "</svg><script>x</script>", "cls\" onload=\"x");
    svg.rect(0, 0, 10, 10, "bar", "tip & <b>", 0.5);
    const std::string s = svg.str();
    CHECK(s.find("<script") == std::string::npos);
    CHECK(s.find("</svg><") == std::string::npos);
    CHECK(s.find("&lt;/svg&gt;&lt;script&gt;x&lt;/script&gt;") != std::string::npos);
    CHECK(s.find("class=\"cls&quot; onload=&quot;x\"") != std::string::npos);
    CHECK(s.find("id=\"c&quot;1\"") != std::string::npos);
    CHECK(s.find("<title>tip &amp; &lt;b&gt;</title>") != std::string::npos);
    CHECK(s.find("fill-opacity=\"0.500\"") != std::string::npos);
    CHECK(s.find("role=\"img\"") != std::string::npos);
    CHECK(s.find("xmlns") == std::string::npos);
  }

  TEST_CASE("charts: nice ticks cover the data; empty data draws its axes and says so") {
    const auto unit = nice_ticks(0, 1);
    CHECK(unit.size() == 6);
    CHECK(unit.front() == 0);
    CHECK(unit.back() == doctest::Approx(1));
    const auto t = nice_ticks(0.37, 2.91);
    CHECK(t.front() <= 0.37);
    CHECK(t.back() >= 2.91);
    CHECK(nice_ticks(3, 3).size() >= 2);
    const std::string empty = line_chart({"e", "Empty", "nothing"}, {}, Axes{});
    CHECK(empty.find("no data") != std::string::npos);
    const std::string nan = line_chart({"n", "NaN", "a NaN point"}, {Series{"s", "s0", {{1, std::nan("")}, {2, 3}}, true, false, {}}}, Axes{});
    CHECK(nan.find("nan") == std::string::npos);
  }

  TEST_CASE("report files: default names in the workspace") {
    CHECK(default_report_path("/ws", "", 0) == fs::path("/ws/torchexam-report.html"));
    CHECK(default_report_path("/ws", "regression", 0) == fs::path("/ws/torchexam-report-regression.html"));
    CHECK(default_report_path("/ws", "", 12, true) == fs::path("/ws/torchexam-report-12.json"));
  }

  TEST_CASE("report/data's progress events: batch notes thinned evenly, every epoch note and the last batch kept") {
    std::vector<std::string> lines;
    for (int e = 1; e <= 10; ++e) {
      for (int b = 1; b <= 500; ++b) {
        events::Progress p;
        p.epoch = e, p.batch = b, p.loss = 1.0 / (e * b);
        lines.push_back(events::to_json_line(p));
      }
      events::Progress p;
      p.kind = events::Progress::Kind::epoch, p.epoch = e;
      lines.push_back(events::to_json_line(p));
    }
    lines.push_back(events::to_json_line(events::Log{"a log line is not progress"}));
    const auto all = daemon::progress_events(lines, 6000);
    CHECK(all.size() == 5010);
    const auto kept = daemon::progress_events(lines, 2000);
    size_t batches = 0, epochs = 0;
    for (const auto& p : kept) (p.kind == events::Progress::Kind::batch ? batches : epochs)++;
    CHECK(batches == 2000);
    CHECK(epochs == 10);
    CHECK(kept.back().kind == events::Progress::Kind::epoch);
    CHECK(kept[kept.size() - 2].batch == 500);  // the last batch note of the last epoch
  }

  TEST_CASE("report/data and exam/closed's report on the wire") {
    protocol::ReportData d = test::sample_session();
    d.history.resize(2), d.details.resize(2), d.progress.resize(2);  // the first two: UTF-8 throughout
    const json::value v = json::value_from(d);
    CHECK(json::value_to<protocol::ReportData>(json::parse(json::serialize(v))) == d);
    const protocol::ReportParams p{"", "/ws", "regression", 0};
    CHECK(json::serialize(json::value_from(p)) == R"({"workspace":"/ws","task":"regression"})");
    CHECK(json::value_to<protocol::ReportParams>(json::value_from(p)) == p);
    const protocol::Closed c{"s", 5, SessionState::closed, std::string("/ws/torchexam-report.html")};
    CHECK(json::serialize(json::value_from(c)) ==
          R"({"session":"s","closed_at_ms":5,"state":"closed","report":"/ws/torchexam-report.html"})");
    CHECK(json::value_to<protocol::Closed>(json::value_from(c)) == c);
    const protocol::Closed older{"s", 5, SessionState::closed, std::nullopt};  // a daemon without reports
    CHECK(json::serialize(json::value_from(older)) == R"({"session":"s","closed_at_ms":5,"state":"closed"})");
  }
}
