// ladder_edit.hpp — a task.yaml's ladder and its calibration comment
// replaced in the file's text, everything else kept byte for byte (other
// keys, their comments, the order), for `torchexam calibrate --write`.
//
// What is replaced: the top-level `ladder:` entry (a flow sequence on one or
// more lines, or a block sequence below it), any comment on its lines, and
// the block of comment lines ('#' in column 1) right above it. The new
// comment lines are written as "# <line>" above "ladder: [t1, ..., t5]".
//
// Failure: std::invalid_argument when the text has no top-level `ladder:`
// or more than one, and when the result does not parse as YAML with
// exactly `thresholds` as its ladder (nothing is written by this unit; the
// caller writes the result atomically). Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace torchexam::config {

std::string replace_ladder(std::string_view task_yaml, const std::vector<std::string>& thresholds,
                           const std::vector<std::string>& comment);

}  // namespace torchexam::config
