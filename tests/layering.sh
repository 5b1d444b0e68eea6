#!/bin/sh
# The layering of DESIGN.md, checked on every #include "..." of the
# harness, the sandbox and the plugins: a part may include only the parts
# below it, each by its folder name (the order is drawn in
# harness/CMakeLists.txt). Prints every include that points up or sideways,
# or names a harness or sandbox header without its folder, and fails if
# there is one.
# Usage: layering.sh SOURCE_DIR
set -eu
cd "$1"
find harness sandbox plugins \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.in' \) \
    -exec grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' {} + |
awk '
BEGIN {
  core = "base config store grading doctor exam sandbox"
  allow["base"] = "base"
  allow["config"] = "base config sandbox"
  allow["store"] = "base store"
  allow["grading"] = "base config grading sandbox"
  allow["doctor"] = "base config grading doctor sandbox"
  allow["exam"] = core
  allow["protocol"] = core " protocol"
  allow["report"] = core " protocol report"
  allow["client"] = core " protocol client"
  allow["daemon"] = core " protocol report daemon"
  allow["lsp"] = core " protocol report client lsp"
  allow["cli"] = core " protocol report client lsp cli"
  allow["sandbox"] = "sandbox"
  allow["plugins"] = ""
  bad = 0; files = 0
}
{
  split($0, colon, ":"); file = colon[1]; line = colon[2]
  match($0, /"[^"]*"/); inc = substr($0, RSTART + 1, RLENGTH - 2)
  n = split(file, dirs, "/")
  part = (dirs[1] == "harness") ? dirs[2] : dirs[1]
  if (!(part in allow)) {
    printf "%s: harness/%s is not a part this check knows (add it to tests/layering.sh and harness/CMakeLists.txt)\n", file, part
    bad = 1; next
  }
  slash = index(inc, "/")
  if (slash == 0) {
    if (part == "plugins") next   # a plugin'"'"'s own neighbour
    printf "%s:%s: \"%s\": include a harness or sandbox header by its folder (\"part/name.hpp\")\n", file, line, inc
    bad = 1; next
  }
  target = substr(inc, 1, slash - 1)
  if (index(" " allow[part] " ", " " target " ") == 0) {
    if (part == "plugins" && target != "harness" && target != "sandbox") next  # the SDK by a relative path
    printf "%s:%s: \"%s\": %s may not include %s (the layering is drawn in harness/CMakeLists.txt)\n", file, line, inc, part, target
    bad = 1
  }
}
END {
  if (bad) { print "layering.sh: includes above point against the layering" > "/dev/stderr"; exit 1 }
  print "layering.sh: " NR " includes, every one points down"
}'
