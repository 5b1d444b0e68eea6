// The compiler's text diagnostics as Diagnostics (compiler.hpp): g++'s and
// clang's, placed on the candidate's line, bounded, valid UTF-8.
#include "grading/compiler.hpp"

#include "sandbox/text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <sstream>

namespace torchexam {

namespace {

// GCC's plain text diagnostics (-fdiagnostics-plain-output), read line by
// line. GCC 12's JSON format leaves out the instantiation context ("required
// from here"), the only place a template error inside LibTorch names the
// candidate's line; the text format has it, at no extra cost.
//
//   In file included from F:L:C,                 include chain, innermost first
//                    from F:L:                   (continuation)
//   F: In instantiation of 'X':                  a context header ("In function
//                                                'X':", "At global scope:", ...)
//   F:L:C:   required from 'Y'                   instantiation frames, innermost
//   F:L:C:   required from here                  first
//   F:L:C: error: message                        a diagnostic (also warning, note,
//                                                fatal error, sorry, unimplemented)
//   cc1plus: error: message / collect2: ...      no location
//   /usr/bin/ld: ...: undefined reference to ... the linker
//
// Clang's text (-fno-caret-diagnostics) has the same diagnostic and include
// lines, but gives the instantiation after the error, as notes:
//
//   F:L:C: error: message                        inside LibTorch
//   F:L:C: note: in instantiation of ... requested here    innermost first
//
// so in clang mode an error or warning outside the candidate's file waits
// for its notes before it is placed (flush_pending()).
class TextDiagnostics {
 public:
  TextDiagnostics(std::string candidate, std::string shown, bool clang = false)
      : from_(std::move(candidate)), to_(std::move(shown)), clang_(clang) {}

  void line(std::string_view l) {
    if (l.empty()) return;
    const bool after_include = last_was_include_;
    last_was_include_ = starts_with(l, "In file included from ");
    if (last_was_include_) {
      // g++ continues a chain with "from" lines, clang with more of these.
      if (!clang_ || !after_include) includes_.clear();
      add_include(l.substr(22));
    } else if (l[0] == ' ' && starts_with(trim_left(l), "from ")) {
      add_include(trim_left(l).substr(5));
    } else if (auto d = diagnostic(l)) {
      add(std::move(*d));
    } else if (auto f = frame(l)) {
      context_.frames.push_back(std::move(*f));
    } else if (auto header = context_header(l)) {
      context_ = Context{};
      context_.header = std::move(*header);
    } else if (l[0] != ' ' && (l.find("error") != std::string_view::npos ||
                               l.find("undefined reference") != std::string_view::npos)) {
      // The linker and the driver, in their own words.
      out_.push_back({"error", "", 0, 0, rename(std::string(l))});
    }
  }

  std::vector<Diagnostic> take() {
    flush_pending();
    return std::move(out_);
  }

 private:
  struct Location {
    std::string file;
    int line = 0;
    int column = 0;
  };
  struct Frame : Location {
    std::string text;  // "required from here"
  };
  struct Context {
    std::string header;  // "In instantiation of '...'", "In function '...'"
    std::vector<Frame> frames;
    bool shown = false;  // its frames already went out as notes
  };

  static bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
  static std::string_view trim_left(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    return s;
  }

  // "F:L:C", "F:L" or "F": the numbers are read from the right.
  static Location location(std::string_view s) {
    Location loc;
    auto number = [&](int& n) {
      const size_t colon = s.rfind(':');
      if (colon == std::string_view::npos) return false;
      const std::string_view digits = s.substr(colon + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || end != digits.data() + digits.size()) return false;
      s = s.substr(0, colon);
      return true;
    };
    int last = 0, before = 0;
    if (number(last)) {
      if (number(before)) {
        loc.line = before;
        loc.column = last;
      } else {
        loc.line = last;
      }
    }
    loc.file = std::string(s);
    return loc;
  }

  void add_include(std::string_view where) {
    while (!where.empty() && (where.back() == ',' || where.back() == ':')) where.remove_suffix(1);
    includes_.push_back(location(where));
  }

  std::optional<Diagnostic> diagnostic(std::string_view l) const {
    static constexpr std::pair<std::string_view, const char*> kKinds[] = {
        {": error: ", "error"}, {": fatal error: ", "fatal error"}, {": warning: ", "warning"},
        {": note: ", "note"},   {": sorry, unimplemented: ", "error"}};
    size_t best = std::string_view::npos;
    std::string_view marker;
    const char* kind = nullptr;
    for (const auto& [m, k] : kKinds)
      if (const size_t pos = l.find(m); pos < best) {
        best = pos;
        marker = m;
        kind = k;
      }
    if (best == std::string_view::npos) return std::nullopt;
    const Location loc = location(l.substr(0, best));
    if (loc.line == 0) return Diagnostic{kind, "", 0, 0, std::string(l)};  // cc1plus:, collect2:, g++:
    return Diagnostic{kind, loc.file, loc.line, loc.column, std::string(l.substr(best + marker.size()))};
  }

  static std::optional<Frame> frame(std::string_view l) {
    const size_t pos = l.find(":   ");
    if (pos == std::string_view::npos) return std::nullopt;
    Frame f;
    static_cast<Location&>(f) = location(l.substr(0, pos));
    if (f.line == 0) return std::nullopt;
    f.text = std::string(trim_left(l.substr(pos + 1)));
    return f;
  }

  // "F: In function 'X':" -> "In function 'X'"; "F: At global scope:".
  static std::optional<std::string> context_header(std::string_view l) {
    if (l.back() != ':') return std::nullopt;
    size_t pos = l.find(": In ");
    if (pos == std::string_view::npos) pos = l.find(": At ");
    if (pos == std::string_view::npos || location(l.substr(0, pos)).line != 0) return std::nullopt;
    return std::string(l.substr(pos + 2, l.size() - pos - 3));
  }

  std::string rename(std::string text) const {
    if (from_.empty()) return text;
    for (size_t pos = 0; (pos = text.find(from_, pos)) != std::string::npos; pos += to_.size())
      text.replace(pos, from_.size(), to_);
    return text;
  }

  // An error or warning outside the candidate's file is shown at the
  // candidate's line that led to it: the innermost instantiation frame in
  // their file, else the #include of their file that reached it. The
  // original place and the instantiation go into the message.
  void add(Diagnostic d) {
    if (clang_) {
      if (d.severity == "note" && pending_) {
        pending_notes_.push_back(std::move(d));
        return;
      }
      flush_pending();
      if (!(d.file.empty() || d.file == from_ || d.severity == "note" || from_.empty())) {
        pending_ = std::move(d);
        return;
      }
    }
    if (d.file.empty() || d.file == from_ || d.severity == "note" || from_.empty()) {
      if (d.file == from_ && !from_.empty()) d.file = to_;
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
      return;
    }
    const Location* theirs = nullptr;
    for (const auto& f : context_.frames)
      if (f.file == from_) {
        theirs = &f;
        break;
      }
    if (!theirs)
      for (const auto& inc : includes_)
        if (inc.file == from_) theirs = &inc;
    if (!theirs) {
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
      return;
    }
    std::string where = fmt::format("{}:{}:{}", d.file, d.line, d.column);
    if (starts_with(context_.header, "In instantiation of ") || starts_with(context_.header, "In substitution of "))
      where += ", i" + context_.header.substr(1);
    out_.push_back({d.severity, to_, theirs->line, theirs->column, rename(d.message) + " (at " + rename(where) + ")"});
    if (!context_.shown) {
      context_.shown = true;
      for (const auto& f : context_.frames)
        if (f.file != from_)
          out_.push_back({"note", f.file, f.line, f.column, rename(f.text)});
    }
    out_.push_back({"note", d.file, d.line, d.column, rename(d.severity + ": " + d.message)});
  }

  // Clang: the error or warning outside the candidate's file that waits for
  // its notes, placed at the first "requested here" note in their file, else
  // at any note there, else at their #include.
  void flush_pending() {
    if (!pending_) return;
    Diagnostic d = std::move(*pending_);
    pending_.reset();
    std::vector<Diagnostic> notes = std::move(pending_notes_);
    pending_notes_.clear();
    auto in_theirs = [&](bool instantiation) -> const Diagnostic* {
      for (const auto& n : notes) {
        const bool requested = n.message.size() >= 14 && n.message.compare(n.message.size() - 14, 14, "requested here") == 0;
        if (n.file == from_ && (requested || !instantiation)) return &n;
      }
      return nullptr;
    };
    const Diagnostic* at = in_theirs(true);
    if (!at) at = in_theirs(false);
    bool instantiated = false;
    for (const auto& n : notes) instantiated |= n.message.rfind("in instantiation of ", 0) == 0;
    Location theirs;
    std::string how;  // the instantiation, for the message
    if (at) {
      theirs = {at->file, at->line, at->column};
      if (at->message.rfind("in instantiation of ", 0) == 0)
        how = at->message.substr(0, at->message.size() - std::string_view(" requested here").size());
    } else if (!instantiated && last_site_.line != 0 && d.file == last_file_) {
      // Clang does not repeat the instantiation of the error before when it
      // is the same: this error comes from the same line of theirs.
      theirs = last_site_;
      how = last_how_;
    } else {
      for (const auto& inc : includes_)
        if (inc.file == from_) theirs = inc;
    }
    if (at) {
      last_site_ = theirs;
      last_how_ = how;
      last_file_ = d.file;
    }
    if (theirs.line == 0) {
      d.message = rename(std::move(d.message));
      out_.push_back(std::move(d));
    } else {
      std::string where = fmt::format("{}:{}:{}", d.file, d.line, d.column);
      if (!how.empty()) where += ", " + how;
      out_.push_back({d.severity, to_, theirs.line, theirs.column, rename(d.message) + " (at " + rename(where) + ")"});
      out_.push_back({"note", d.file, d.line, d.column, rename(d.severity + ": " + d.message)});
    }
    for (auto& n : notes) {
      if (n.file == from_) n.file = to_;
      n.message = rename(std::move(n.message));
      out_.push_back(std::move(n));
    }
  }

  std::string from_, to_;
  bool clang_ = false;
  std::vector<Location> includes_;
  Context context_;
  std::vector<Diagnostic> out_;
  std::optional<Diagnostic> pending_;
  std::vector<Diagnostic> pending_notes_;
  bool last_was_include_ = false;
  Location last_site_;    // clang: where the last instantiation in their file was
  std::string last_how_;  // and which
  std::string last_file_;  // the file of the error placed there
};


}  // namespace

namespace {

std::vector<Diagnostic> parse_text(const std::string& output, const std::string& rename_from,
                                   const std::string& rename_to, bool clang) {
  TextDiagnostics parser(rename_from, rename_to, clang);
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) parser.line(line);
  return bound_diagnostics(parser.take(), rename_to);
}

}  // namespace

std::vector<Diagnostic> parse_gcc_diagnostics(const std::string& output, const std::string& rename_from,
                                              const std::string& rename_to) {
  return parse_text(output, rename_from, rename_to, false);
}

std::vector<Diagnostic> parse_clang_diagnostics(const std::string& output, const std::string& rename_from,
                                                const std::string& rename_to) {
  return parse_text(output, rename_from, rename_to, true);
}

std::vector<Diagnostic> bound_diagnostics(std::vector<Diagnostic> out, const std::string& shown) {
  const size_t more = out.size() > kMaxDiagnostics ? out.size() - kMaxDiagnostics : 0;
  if (more) out.resize(kMaxDiagnostics);
  for (auto& d : out) {
    d.file = to_valid_utf8(d.file);
    if (d.message.size() > kMaxDiagnosticMessage) {
      const size_t cut = d.message.size() - kMaxDiagnosticMessage;
      d.message = fmt::format("{} [{} more bytes]", std::string_view(d.message).substr(0, kMaxDiagnosticMessage), cut);
    }
    d.message = to_valid_utf8(d.message);
  }
  if (more)
    out.push_back({"note", shown, 0, 0,
                   fmt::format("{} more diagnostics not shown; the compiler's full output is in the build log", more)});
  return out;
}

}  // namespace torchexam
