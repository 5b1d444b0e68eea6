#include <doctest/doctest.h>

#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"

using namespace torchexam::protocol;

namespace {
struct Echo {
  std::string text;
};
Echo tag_invoke(json::value_to_tag<Echo>, const json::value& v) {
  const torchexam::json_shape::Object o(v);
  o.only({"text"});
  return {o.required<std::string>("text")};
}

std::vector<std::string> drain(FrameReader& r, std::vector<std::string>* errors = nullptr) {
  std::vector<std::string> bodies;
  while (auto f = r.next()) {
    if (auto* frame = std::get_if<Frame>(&*f))
      bodies.push_back(frame->body);
    else if (errors)
      errors->push_back(std::get<FramingError>(*f).message);
  }
  return bodies;
}
}  // namespace

TEST_SUITE("framing") {
  TEST_CASE("frames arrive whole, split at every byte, and back to back") {
    const std::string two = encode_frame("{\"a\":1}") + encode_frame("{}");
    for (size_t cut = 0; cut <= two.size(); ++cut) {
      FrameReader r;
      r.feed(two.substr(0, cut));
      auto first = drain(r);
      r.feed(two.substr(cut));
      auto rest = drain(r);
      first.insert(first.end(), rest.begin(), rest.end());
      CHECK(first == std::vector<std::string>{"{\"a\":1}", "{}"});
    }
  }

  TEST_CASE("other headers and any case are accepted") {
    FrameReader r;
    r.feed("content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}");
    CHECK(drain(r) == std::vector<std::string>{"{}"});
  }

  TEST_CASE("a malformed header is an error and the next message still gets through") {
    for (std::string bad : std::vector<std::string>{"Content-Length: abc\r\n\r\n", "X-Nothing: 1\r\n\r\n", "garbage without colon\r\n\r\n",
                            std::string(9000, 'x')}) {
      CAPTURE(bad.substr(0, 40));
      FrameReader r(1 << 20);
      std::vector<std::string> errors;
      r.feed(bad);
      r.feed(encode_frame("{\"ok\":true}"));
      auto bodies = drain(r, &errors);
      CHECK(errors.size() == 1);
      CHECK(bodies == std::vector<std::string>{"{\"ok\":true}"});
    }
  }

  TEST_CASE("a bad header alone is one error, and a message sent later is not harmed") {
    FrameReader r;
    std::vector<std::string> errors;
    r.feed("Content-Length: abc\r\n\r\n");
    CHECK(drain(r, &errors).empty());
    r.feed(encode_frame("{}"));
    CHECK(drain(r, &errors) == std::vector<std::string>{"{}"});
    CHECK(errors.size() == 1);
    r.feed("garbage ending in Content-Le");  // a header may arrive split anywhere
    drain(r, &errors);
    r.feed("ngth: 2\r\n\r\n[]");
    CHECK(drain(r, &errors) == std::vector<std::string>{"[]"});
  }

  TEST_CASE("an over-long body is dropped whole: one error, then the next message") {
    FrameReader r(10);
    std::vector<std::string> errors;
    r.feed("Content-Length: 30\r\n\r\n0123456789");
    CHECK(drain(r, &errors).empty());
    r.feed("Content-Length: 99\r\n");  // the last 20 bytes of the body, though it looks like a header
    r.feed(encode_frame("{}"));
    CHECK(drain(r, &errors) == std::vector<std::string>{"{}"});
    CHECK(errors.size() == 1);
  }

  TEST_CASE("JSON-RPC messages parse, and bad ones get the matching error") {
    auto req = parse_message(R"({"jsonrpc":"2.0","id":7,"method":"exam/status","params":{}})");
    REQUIRE(std::holds_alternative<Message>(req));
    CHECK(std::get<Message>(req).kind == Message::Kind::request);
    CHECK(std::get<Message>(req).method == "exam/status");
    auto note = parse_message(R"({"jsonrpc":"2.0","method":"x"})");
    CHECK(std::get<Message>(note).kind == Message::Kind::notification);
    CHECK(std::get<ParseFailure>(parse_message("{nope")).code == error_code::parse_error);
    CHECK(std::get<ParseFailure>(parse_message("[]")).code == error_code::invalid_request);
    auto no_version = parse_message(R"({"id":3,"method":"x"})");
    CHECK(std::get<ParseFailure>(no_version).code == error_code::invalid_request);
    CHECK(std::get<ParseFailure>(no_version).id == 3);
    CHECK(std::get<ParseFailure>(parse_message(R"({"jsonrpc":"2.0","id":1,"method":5})")).code ==
          error_code::invalid_request);
    auto no_method = parse_message(R"({"jsonrpc":"2.0","id":9,"methd":"x"})");
    CHECK(std::get<ParseFailure>(no_method).code == error_code::invalid_request);
    CHECK(std::get<ParseFailure>(no_method).id == 9);
  }

  TEST_CASE("the binder answers unknown methods and bad params itself") {
    Binder b;
    b.bind(Call<Echo, std::string>{"echo"},
           [](const Echo& p, Binder::TypedReply<std::string> reply) { reply(p.text); });
    std::vector<std::string> sent;
    auto send = [&](std::string s) { sent.push_back(std::move(s)); };
    auto dispatch = [&](const char* body) { b.dispatch(std::get<Message>(parse_message(body)), send); };
    dispatch(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"text":"hi"}})");
    dispatch(R"({"jsonrpc":"2.0","id":2,"method":"nope"})");
    dispatch(R"({"jsonrpc":"2.0","id":3,"method":"echo","params":{"text":5}})");
    dispatch(R"({"jsonrpc":"2.0","id":4,"method":"echo","params":{"txt":"x"}})");
    dispatch(R"({"jsonrpc":"2.0","method":"echo","params":{"text":"note"}})");  // notification: no answer
    REQUIRE(sent.size() == 4);
    CHECK(sent[0] == R"({"jsonrpc":"2.0","id":1,"result":"hi"})");
    CHECK(sent[1].find("-32601") != std::string::npos);
    CHECK(sent[2].find("-32602") != std::string::npos);
    CHECK(sent[2].find("params.text: expected a string") != std::string::npos);
    CHECK(sent[3].find("unknown field 'txt'") != std::string::npos);
  }
}
