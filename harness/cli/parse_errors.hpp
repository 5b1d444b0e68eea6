// parse_errors.hpp — what `torchexam` says when its command line is wrong:
// CLI11's error in the CLI's own words, with "did you mean" for a mistyped
// command or option and the help command to run. The caller prints it with
// the `torchexam:` prefix and exits 2.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace torchexam::cli {

std::string explain_parse_error(const CLI::App& app, int argc, char** argv, const CLI::ParseError& error);

}  // namespace torchexam::cli
