// fuzz_protocol — libFuzzer target for the daemon's wire protocol: LSP
// framing (protocol::FrameReader), JSON-RPC parsing (protocol::parse_message)
// and every typed params conversion in protocol/messages.hpp, both ways.
//
// The input is the byte stream a client would send. It is fed to the reader
// in up to four chunks whose split points are derived from the data (so one
// input covers frames that arrive whole and frames split anywhere), and the
// reader is drained after every chunk. Two readers run side by side: one with
// the daemon's body limit and one with a tiny limit, so the "over the limit"
// path and the resynchronisation after it are exercised too.
//
// What counts as a bug (the fuzzer stops with a crash):
//  - any exception escaping, other than protocol::RpcError(invalid_params)
//    from read_params (parse_message and the reader are documented never to
//    throw);
//  - typed params that do not survive value_from -> read_params unchanged
//    (what a client writes, the daemon must read back as it was);
//  - a FramingError that consumes no input: the reader's state is then
//    unchanged, so the next next() returns the same error again, and a
//    drain loop like the daemon's (`while (auto f = reader.next())`) never
//    ends;
//  - a frame that does not survive encode_frame -> FrameReader unchanged;
//  - a request or notification that does not survive make_request /
//    make_notification -> parse_message unchanged;
//  - typed params that accept a non-finite number (Boost.JSON reads 1e400 as
//    infinity; json::serialize would write "Infinity", which is not JSON);
//  - sanitizer findings (ASan, UBSan) in any of it.
//
// Found and fixed so far: a FramingError that consumed no input (the reader
// stalled on "x\r\n\r\n"), and StartParams::duration_s taking infinity.
//
// Build: see tests/fuzz/run_short.sh (standalone) or tests/fuzz/CMakeLists.txt
// (the fuzz_protocol target, Clang only). Seeds: tests/fuzz/corpus/.
#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/messages.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

using namespace torchexam::protocol;

[[noreturn]] void bug(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_protocol: BUG: %s%s%.*s\n", what, detail.empty() ? "" : ": ",
               static_cast<int>(std::min<size_t>(detail.size(), 400)), detail.data());
  std::abort();
}

// JSON equality, except that doubles need only agree to a few ulps: Boost.JSON
// parses numbers fast rather than exactly, so serialise -> parse may move the
// last bit of a double, which is not the protocol's bug.
bool same(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (const auto* oa = a.if_object()) {
    const auto& ob = b.get_object();
    if (oa->size() != ob.size()) return false;
    for (const auto& [k, v] : *oa) {
      const auto* w = ob.if_contains(k);
      if (!w || !same(v, *w)) return false;
    }
    return true;
  }
  if (const auto* aa = a.if_array()) {
    const auto& ab = b.get_array();
    if (aa->size() != ab.size()) return false;
    for (size_t i = 0; i < aa->size(); ++i)
      if (!same((*aa)[i], ab[i])) return false;
    return true;
  }
  return a == b;
}

bool has_non_finite(const json::value& v) {
  if (v.is_double()) return !std::isfinite(v.get_double());
  if (const auto* o = v.if_object())
    for (const auto& [k, x] : *o)
      if (has_non_finite(x)) return true;
  if (const auto* a = v.if_array())
    for (const auto& x : *a)
      if (has_non_finite(x)) return true;
  return false;
}

// Every typed params conversion; RpcError is their documented way to refuse.
// What reads must write back to params that read the same.
template <class P>
void convert(const json::value& params) {
  std::optional<P> p;
  try {
    p = read_params<P>(params);
  } catch (const RpcError& e) {
    if (e.code != error_code::invalid_params) bug("read_params threw an RpcError that is not invalid_params", e.what());
    return;
  }
  const json::value written = json::value_from(*p);
  try {
    if (!(read_params<P>(written) == *p)) bug("typed params do not survive value_from -> read_params", json::serialize(written));
  } catch (const RpcError& e) {
    bug("typed params written by value_from do not read back", e.what());
  }
}

void check_message(const std::string& body) {
  auto parsed = parse_message(body);
  if (auto* failure = std::get_if<ParseFailure>(&parsed)) {
    if (failure->code != error_code::parse_error && failure->code != error_code::invalid_request)
      bug("parse_message failed with an unexpected code", body);
    // The daemon answers it; that must serialise whatever the id is.
    (void)make_error(failure->id, failure->code, failure->message);
    return;
  }
  const Message& m = std::get<Message>(parsed);
  if (m.kind == Message::Kind::response) {
    (void)make_result(m.id, m.result);
    return;
  }
  if (!m.params.is_object() && !m.params.is_array()) bug("params neither an object nor an array", body);

  // Boost.JSON parses 1e400 as infinity. Such a value may sit in params (the
  // daemon never writes params back), but no typed params may take it.
  const bool non_finite = has_non_finite(m.params);
  try {
    const StartParams p = read_params<StartParams>(m.params);
    if (p.duration_s && !std::isfinite(*p.duration_s)) bug("StartParams took a non-finite duration_s", body);
  } catch (const RpcError&) {
  }

  convert<StartParams>(m.params);
  convert<SessionParams>(m.params);
  convert<SubmitParams>(m.params);
  convert<SubmissionListParams>(m.params);
  convert<SubmissionParams>(m.params);
  convert<VerifyParams>(m.params);
  convert<Empty>(m.params);
  if (non_finite) return;  // would not survive the round trip below (Infinity is not JSON)

  // What the client sends for this message must parse back to it.
  const std::string again = m.kind == Message::Kind::request ? make_request(m.id, m.method, m.params)
                                                             : make_notification(m.method, m.params);
  auto reparsed = parse_message(again);
  const auto* back = std::get_if<Message>(&reparsed);
  if (!back) bug("a serialised request does not parse back", again);
  if (back->kind != m.kind || back->method != m.method || back->id != m.id || !same(back->params, m.params))
    bug("a serialised request parses back to a different message", again);
}

void check_frame(const std::string& body) {
  FrameReader again;
  again.feed(encode_frame(body));
  auto f = again.next();
  if (!f || !std::holds_alternative<Frame>(*f) || std::get<Frame>(*f).body != body || again.buffered() != 0)
    bug("encode_frame -> FrameReader does not give the body back", body);
  check_message(body);
}

// Drains `r`, checking that every result makes progress.
void drain(FrameReader& r) {
  // A frame is complete or the reader is waiting; the bound only guards the
  // progress check below against a bug in it.
  for (size_t guard = 0; guard < (size_t{1} << 20); ++guard) {
    const size_t before = r.buffered();
    auto next = r.next();
    if (!next) return;
    if (auto* frame = std::get_if<Frame>(&*next)) {
      check_frame(frame->body);
      continue;
    }
    if (r.buffered() >= before)
      bug("FrameReader::next() returned a FramingError without consuming input; the next call returns the same "
          "error forever (a drain loop never ends)",
          std::get<FramingError>(*next).message);
  }
  bug("FrameReader::next() did not settle");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // Up to three split points from an FNV-1a hash of the input: every byte
  // still reaches the reader, and a mutation anywhere moves the cuts.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : input) h = (h ^ c) * 1099511628211ull;
  std::array<size_t, 5> cuts{0, 0, 0, 0, size};
  const size_t pieces = h % 4;  // 0..3 extra cuts
  for (size_t i = 0; i < 3; ++i) cuts[1 + i] = i < pieces ? static_cast<size_t>((h >> (16 + 13 * i)) % (size + 1)) : 0;
  std::sort(cuts.begin(), cuts.end());

  try {
    FrameReader daemon_like;      // the daemon's limit (16 MiB)
    FrameReader tiny(64);         // bodies over 64 bytes are errors
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      const std::string_view chunk = input.substr(cuts[i], cuts[i + 1] - cuts[i]);
      daemon_like.feed(chunk);
      drain(daemon_like);
      tiny.feed(chunk);
      drain(tiny);
    }
  } catch (const std::exception& e) {
    bug("an exception escaped the protocol layer", e.what());
  }
  return 0;
}
