// text.hpp — strings that cross a trust or process boundary: made valid UTF-8
// and bounded in size before they are written into JSON.
//
// Both sides use these: the runner for what it says about candidate code
// (exception texts can be megabytes and hold any bytes), the harness for
// what it prints and sends. Pure functions, no allocation beyond the result.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

// Well-formed as in Unicode's table 3-7: no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence.
bool is_valid_utf8(std::string_view text);

// `text` with each maximal ill-formed subsequence replaced by U+FFFD, as
// Unicode recommends; valid text is returned unchanged.
std::string to_valid_utf8(std::string_view text);
// Each of `texts` so.
std::vector<std::string> to_valid_utf8(const std::vector<std::string>& texts);

// `s` (valid UTF-8) cut to at most about `max_bytes`: the head and a short
// tail are kept around a line "[... N bytes omitted ...]", never splitting a
// character. Returned unchanged when it fits.
std::string bounded(std::string_view s, size_t max_bytes);

}  // namespace torchexam
