// utf8.hpp — checking and repairing UTF-8 text that comes from outside
// (compiler output on a candidate's bytes, sources sent over the protocol)
// before it goes into JSON, which must be valid UTF-8.
//
// Valid means well-formed as in Unicode's table 3-7: no overlong forms, no
// surrogates, nothing above U+10FFFF, no truncated sequence. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace torchexam {

bool is_valid_utf8(std::string_view text);

// `text` with each maximal ill-formed subsequence replaced by U+FFFD (the
// replacement character, EF BF BD), as Unicode recommends; valid text is
// returned unchanged.
std::string to_valid_utf8(std::string_view text);

}  // namespace torchexam
