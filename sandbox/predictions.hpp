// predictions.hpp — the file an evaluation run leaves for the scorer.
//
// Format (the machine's byte order; the file never leaves it): "TXPRED01", int32 dtype, int32 ndim, int64
// shape[ndim], then the array bytes in C order. Written by the untrusted
// runner, read by the trusted harness: read_predictions() checks every size
// against the file and the dtype table and throws MalformedPredictions with
// a message on anything missing or malformed (candidate code shares the
// process that writes it, so that is the solution's failure).
#pragma once

#include <torchexam/plugin.hpp>

#include <filesystem>
#include <stdexcept>

namespace torchexam::sandbox {

class MalformedPredictions : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes atomically (temporary file, then rename). Throws on I/O failure.
void write_predictions(const std::filesystem::path& path, const torchexam_array& a);

// Returns an owning array.
Array read_predictions(const std::filesystem::path& path);

}  // namespace torchexam::sandbox
