// read_name.hpp — how the protocol reads a state or stage sent by its name
// (messages.cpp, rejudge_messages.cpp): through the core's one table
// (exam/states.hpp); an unknown name is a ShapeError listing the names.
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
