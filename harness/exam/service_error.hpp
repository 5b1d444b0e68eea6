// service_error.hpp — the exam layer's one error policy.
//
// Every refusal the exam core makes (ExamService and the pieces behind it:
// session book, job queue, artifacts, environment probe) is a ServiceError:
// a kind the protocol adapter maps to a protocol error code, and a message
// written for the candidate (what is wrong and what to do). Other exceptions
// that escape a call are the harness's own faults (a store that cannot
// write, say) and reach the adapter as internal errors.
#pragma once

#include <stdexcept>
#include <string>

namespace torchexam {

class ServiceError : public std::runtime_error {
 public:
  enum class Kind { not_found, exam_closed, conflict, invalid_state, environment_error, invalid_argument };
  ServiceError(Kind kind, std::string message) : std::runtime_error(std::move(message)), kind(kind) {}
  Kind kind;
};

}  // namespace torchexam
