// grade_json.hpp — a GradeResult as JSON: the `--json` output of `torchexam
// grade` and what the store keeps for each graded submission.
#pragma once

#include "grading/grader.hpp"

#include <boost/json.hpp>

namespace torchexam {

boost::json::object to_json(const GradeResult& r);
boost::json::array to_json(const std::vector<Diagnostic>& diagnostics);

}  // namespace torchexam
