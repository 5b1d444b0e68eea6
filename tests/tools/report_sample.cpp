// report_sample OUT.html — writes the report of the hand-made session
// (tests/report/sample_session.hpp) for the browser test
// (tests/report/render_in_chromium.sh). Exit 0 when written.
#include "report/model.hpp"
#include "report/render.hpp"
#include "report/report_file.hpp"

#include "../report/sample_session.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: report_sample OUT.html\n");
    return 2;
  }
  try {
    using namespace torchexam;
    report::write_report(argv[1], report::render_html(report::build_report(test::sample_session())));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "report_sample: %s\n", e.what());
    return 1;
  }
  return 0;
}
