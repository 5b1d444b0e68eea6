// grade_json.hpp — a grading's JSON, both ways: the `--json` output of
// `torchexam grade`, what the store keeps for each graded submission (the
// result with its artifacts, and the training curve), and what the protocol
// sends (docs/protocol.md §4, "Submission record"). The one place these
// types are converted: everyone else uses boost::json::value_from/value_to.
//
// Writing: every string the job or the compiler produced is made valid
// UTF-8; a non-finite number is null. Reading (json_shape.hpp): a wrong type
// is a ShapeError naming the field; a GradeResult field missing from an
// older stored result reads as its default, except `verdict`, which is
// required. GradeResult::cancelled is never written (a cancelled grading
// stores no result).
#pragma once

#include "grading/grader.hpp"

#include <boost/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace torchexam {

// What the store keeps of a finished grading: the result and the job's
// files kept by content hash (checkpoint, train_log, evaluate_log,
// predictions). On the wire: the result's fields, then "artifacts".
struct GradeRecord {
  GradeResult grade;
  std::map<std::string, std::string> artifacts;
  friend bool operator==(const GradeRecord&, const GradeRecord&) = default;
};

// One point of the training curve, per epoch: {"epoch", "loss",
// "elapsed_s", <metric>...}; a non-finite number is null, and NaN again
// when read.
struct CurvePoint {
  int epoch = 0;
  double loss = 0;
  double elapsed_s = 0;
  std::map<std::string, double> metrics;
  friend bool operator==(const CurvePoint&, const CurvePoint&) = default;
};
CurvePoint curve_point(const events::Progress& epoch_end);

// The fingerprint in a stored result's JSON text (store::SubmissionRecord::
// result_json); nullopt when there is none or it does not read. Never throws:
// for listings, which must not fail on one odd row.
std::optional<Fingerprint> stored_fingerprint(std::string_view result_json);

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Diagnostic& d);
Diagnostic tag_invoke(boost::json::value_to_tag<Diagnostic>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const OutputLog& o);
OutputLog tag_invoke(boost::json::value_to_tag<OutputLog>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const GradeResult& r);
GradeResult tag_invoke(boost::json::value_to_tag<GradeResult>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const GradeRecord& r);
GradeRecord tag_invoke(boost::json::value_to_tag<GradeRecord>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CurvePoint& p);
CurvePoint tag_invoke(boost::json::value_to_tag<CurvePoint>, const boost::json::value& v);

}  // namespace torchexam
