// platform.hpp — which BLAS library a process computes with, read from its
// own memory map: the runner's half of the grading's fingerprint
// (harness/grading/fingerprint.hpp) that only the process running LibTorch
// can see. LibTorch links a BLAS by soname (libblas.so.3, libopenblas.so.0);
// Debian's alternatives decide which file that is, so the mapped file, with
// symbolic links resolved by the kernel, is the only true answer.
//
// No LibTorch here: the runner (runner.cpp) adds LibTorch's own build facts
// and sends everything as a `platform` event (events.hpp). Pure functions
// over text, except read_blas(), which asks the dynamic linker and reads
// /proc/self/maps; it never throws (nothing found gives an empty path).
#pragma once

#include <string>
#include <string_view>

namespace torchexam::sandbox {

struct BlasFound {
  std::string path;     // "" when no BLAS is mapped
  std::string version;  // "" when neither the library nor its file name says
};

// The BLAS library among the mapped files of a /proc/<pid>/maps text: the
// first of OpenBLAS (libopenblas*), MKL (libmkl_rt*), BLIS (libblis*), a
// generic libblas.so* (Debian's alternatives), in that order of preference.
std::string blas_in_maps(std::string_view maps);

// The version an OpenBLAS configuration string states ("OpenBLAS 0.3.21
// DYNAMIC_ARCH ..." -> "0.3.21"); "" when it does not.
std::string version_from_openblas_config(std::string_view config);

// The version in a library's file name past its ".so." ("libblas.so.3.11.0"
// -> "3.11.0") or in an OpenBLAS release tag ("libopenblasp-r0.3.21.so" ->
// "0.3.21"); "" when there is none.
std::string version_from_library_name(std::string_view path);

// This process's BLAS: the file that defines sgemm_ as the process
// resolves it (dladdr, symbolic links resolved), else blas_in_maps over
// /proc/self/maps; its version from that library's openblas_get_config when
// it has one, else from the file name.
BlasFound read_blas();

}  // namespace torchexam::sandbox
