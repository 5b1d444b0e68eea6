// read_name.hpp — how the protocol reads a state or stage sent by its name
// (messages.cpp, rejudge_messages.cpp): through the core's one table
// (exam/states.hpp); an unknown name is a ShapeError listing the names.
// TORCHEXAM_PROTOCOL_BY_NAME defines both conversions of such an enum.
#pragma once

#include "base/json_shape.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace torchexam::protocol {

template <class E>
E read_name(const boost::json::value& v, std::optional<E> (*parse)(std::string_view), std::string (*names)()) {
  const auto name = json_shape::read<std::string>(v);
  if (auto e = parse(name)) return *e;
  throw json_shape::ShapeError("", "expected one of " + names() + " (got '" + name + "')");
}

}  // namespace torchexam::protocol

// Both conversions of an enum of the core that travels by its name: written
// by to_string(), read by read_name() with the core's parse and names.
#define TORCHEXAM_PROTOCOL_BY_NAME(T, parse, names)                                                   \
  void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const T& x) { v = to_string(x); } \
  T tag_invoke(boost::json::value_to_tag<T>, const boost::json::value& v) {                           \
    return ::torchexam::protocol::read_name(v, parse, names);                                          \
  }
