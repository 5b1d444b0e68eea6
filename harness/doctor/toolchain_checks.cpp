// Toolchain checks: compiler, LibTorch (version, ABI, runs, CUDA), CMake.
#include "doctor/checks.hpp"

#include "base/json_shape.hpp"
#include "base/process.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>

namespace torchexam::doctor {
namespace fs = std::filesystem;

namespace {

// A stderr file of its own for each probe: the daemon runs verify() for
// several sessions at once, and a name by pid alone would be shared.
fs::path probe_stderr_file(const std::string& what) {
  static std::atomic<unsigned> next{0};
  return fs::temp_directory_path() / fmt::format("torchexam-doctor-{}-{}-{}.err", getpid(), next++, what);
}

}  // namespace

std::optional<std::string> command_output(ProcessLauncher& launcher, const std::string& exe,
                                          const std::vector<std::string>& args, double timeout_s) {
  const fs::path path = launcher.find_executable(exe);
  if (path.empty()) return std::nullopt;
  std::error_code ec;
  const fs::path err = probe_stderr_file(path.filename().string());
  ProcessSpec spec;
  spec.exe = path;
  spec.args = args;
  spec.stderr_file = err;
  spec.wall_timeout_s = timeout_s;
  std::string out;
  try {
    const ProcessResult r = launcher.run(spec, [&](std::string_view line) { out += std::string(line) + "\n"; });
    fs::remove(err, ec);
    if (r.timed_out || !r.exit_code || *r.exit_code != 0) return std::nullopt;
  } catch (const std::exception&) {
    fs::remove(err, ec);
    return std::nullopt;
  }
  return out;
}

namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The last whitespace-separated word of `line` that reads as a version.
std::string last_version_word(const std::string& line) {
  std::istringstream words(line);
  std::string found;
  for (std::string w; words >> w;)
    if (auto v = parse_version(w); v && v->size() >= 2) found = torchexam::to_string(*v);
  return found;
}

CheckResult result(std::string name, Status status, std::string found, std::string expected, std::string fix = "") {
  return {std::move(name), status, std::move(found), std::move(expected), status == Status::ok ? "" : std::move(fix)};
}

}  // namespace

std::optional<CompilerInfo> probe_compiler(ProcessLauncher& launcher, const fs::path& cxx) {
  const auto out = command_output(launcher, cxx.string(), {"--version"});
  if (!out) return std::nullopt;
  CompilerInfo info;
  info.banner = first_line(*out);
  if (out->find("clang") != std::string::npos)
    info.id = "clang";
  else if (out->find("Free Software Foundation") != std::string::npos || info.banner.find("g++") != std::string::npos ||
           info.banner.find("gcc") != std::string::npos)
    info.id = "gcc";
  info.version = last_version_word(info.banner);
  return info;
}

CheckResult check_compiler(const config::Pins& pins, const std::optional<CompilerInfo>& found, const fs::path& cxx) {
  std::string expected = pins.compiler_id.empty() ? "a C++17 compiler" : pins.compiler_id;
  if (!pins.compiler_version.empty()) expected += " " + pins.compiler_version.text();
  const std::string install = pins.compiler_id == "clang" ? "apt-get install clang" : "apt-get install g++";
  if (!found)
    return result("compiler", Status::fail,
                  cxx.empty() ? std::string(pins.compiler_id == "clang" ? "no clang++" : "no g++") +
                                    " was found when TorchExam was configured"
                              : cxx.string() + " does not run",
                  expected, install + ", then reconfigure: cmake -S . -B build");
  const std::string seen =
      (found->id.empty() ? "unknown compiler" : found->id) + " " + found->version + " (" + cxx.string() + ")";
  if (!pins.compiler_id.empty() && found->id != pins.compiler_id)
    return result("compiler", Status::fail, seen, expected,
                  install + ", then build with it: cmake -S . -B build -DCMAKE_CXX_COMPILER=" +
                      (pins.compiler_id == "clang" ? "clang++" : "g++"));
  const auto v = parse_version(found->version);
  if (!pins.compiler_version.empty() && (!v || !pins.compiler_version.matches(*v)))
    return result("compiler", Status::fail, seen, expected,
                  "install a " + expected + " (Debian 12: " + install + ") and rebuild with it");
  return result("compiler", Status::ok, seen, expected);
}

CandidateFlagsProbe probe_candidate_flags(ProcessLauncher& launcher, const fs::path& cxx,
                                          std::vector<std::string> flags) {
  CandidateFlagsProbe out;
  out.flags = std::move(flags);
  const fs::path err = probe_stderr_file("flags");
  ProcessSpec spec;
  spec.exe = cxx;
  spec.args = out.flags;
  spec.args.insert(spec.args.end(), {"-fsyntax-only", "-x", "c++", "/dev/null"});
  spec.stderr_file = err;
  spec.wall_timeout_s = 30;
  std::string text;
  try {
    const ProcessResult r = launcher.run(spec, [](std::string_view) {});
    out.accepted = !r.timed_out && r.exit_code && *r.exit_code == 0;
    std::ifstream in(err);
    for (std::string line; std::getline(in, line);) {
      if (line.find("error") == std::string::npos) continue;
      text = line;
      break;
    }
    if (!out.accepted && text.empty()) text = r.timed_out ? "it did not finish in 30 s" : "it failed without a message";
  } catch (const std::exception& e) {
    text = e.what();
  }
  std::error_code ec;
  fs::remove(err, ec);
  out.complaint = text;
  return out;
}

CheckResult check_candidate_flags(const CandidateFlagsProbe& probe, const fs::path& cxx,
                                  const fs::path& environment_yaml) {
  std::string flags;
  for (const auto& f : probe.flags) flags += (flags.empty() ? "" : " ") + f;
  const std::string expected = "the compiler accepts compiler.std and compiler.flags";
  if (probe.accepted) return result("candidate flags", Status::ok, flags + " (" + cxx.string() + ")", expected);
  return result("candidate flags", Status::fail, cxx.string() + " refuses " + flags + ": " + probe.complaint, expected,
                "correct `compiler: std:` or `flags:` in " + environment_yaml.string() + " (docs/yaml.md)");
}

LibTorchInfo probe_libtorch_version(ProcessLauncher& launcher, const std::string& include_dirs, const fs::path& lib_dir) {
  LibTorchInfo info;
  std::error_code ec;
  const fs::path c10 = fs::canonical(lib_dir / "libc10.so", ec);
  if (!ec) {
    if (auto owner = command_output(launcher, "dpkg-query", {"-S", c10.string()})) {
      const std::string package = owner->substr(0, owner->find(':'));
      if (auto version = command_output(launcher, "dpkg-query", {"-W", "-f=${Version}", package})) {
        if (auto v = parse_version(*version)) {
          info.version = torchexam::to_string(*v);
          info.source = "Debian package " + package + " " + first_line(*version);
          return info;
        }
      }
    }
  }
  std::istringstream dirs(include_dirs);
  for (std::string dir; std::getline(dirs, dir, ';');) {
    const std::string text = read_text_file(fs::path(dir) / "torch" / "version.h");
    if (text.empty()) continue;
    std::smatch m;
    static const std::regex kMajor(R"(TORCH_VERSION_MAJOR\s+(\d+))"), kMinor(R"(TORCH_VERSION_MINOR\s+(\d+))"),
        kPatch(R"(TORCH_VERSION_PATCH\s+(\d+))");
    std::string parts[3];
    const std::regex* res[3] = {&kMajor, &kMinor, &kPatch};
    for (int i = 0; i < 3; ++i)
      if (std::regex_search(text, m, *res[i])) parts[i] = m[1];
    if (parts[0].empty() || parts[1].empty()) continue;
    info.version = parts[0] + "." + parts[1] + (parts[2].empty() ? "" : "." + parts[2]);
    info.source = (fs::path(dir) / "torch" / "version.h").string();
    return info;
  }
  return info;
}

CheckResult check_libtorch_version(const config::Pins& pins, const LibTorchInfo& found) {
  const std::string expected = pins.libtorch_version.empty() ? "any" : pins.libtorch_version.text();
  const std::string fix = "install LibTorch " + expected +
                          " (Debian 12: apt-get install libtorch-dev, which is 1.13.1) and rebuild: cmake -S . -B "
                          "build && cmake --build build; or correct libtorch.version in environment.yaml";
  if (found.version.empty()) return result("libtorch version", Status::fail, "LibTorch not found", expected, fix);
  const std::string seen = found.version + " (" + found.source + ")";
  const auto v = parse_version(found.version);
  if (!pins.libtorch_version.empty() && (!v || !pins.libtorch_version.matches(*v)))
    return result("libtorch version", Status::fail, seen, expected, fix);
  return result("libtorch version", Status::ok, seen, expected);
}

CheckResult check_cxx11_abi(const config::Pins& pins, const std::string& torch_cxx_flags) {
  static const std::regex kAbi(R"(-D_GLIBCXX_USE_CXX11_ABI=(\d))");
  std::smatch m;
  // Without the flag, the compiler's default: 1 for GCC 5 and later.
  const int found = std::regex_search(torch_cxx_flags, m, kAbi) ? std::stoi(m[1]) : 1;
  const std::string seen =
      "_GLIBCXX_USE_CXX11_ABI=" + std::to_string(found) + " (LibTorch's CMake flags: '" + torch_cxx_flags + "')";
  if (pins.cxx11_abi < 0) return result("libtorch abi", Status::ok, seen, "any");
  const std::string expected = "_GLIBCXX_USE_CXX11_ABI=" + std::to_string(pins.cxx11_abi);
  if (found != pins.cxx11_abi)
    return result("libtorch abi", Status::fail, seen, expected,
                  "use a LibTorch built with " + expected +
                      (pins.cxx11_abi == 1 ? " (Debian's libtorch-dev, or pytorch.org's 'cxx11 ABI' download)"
                                           : " (pytorch.org's 'Pre-cxx11 ABI' download)") +
                      " and rebuild, or correct libtorch.cxx11_abi in environment.yaml");
  return result("libtorch abi", Status::ok, seen, expected);
}

std::optional<std::string> probe_cmake(ProcessLauncher& launcher) {
  const auto out = command_output(launcher, "cmake", {"--version"});
  if (!out) return std::nullopt;
  return last_version_word(first_line(*out));
}

CheckResult check_cmake(const config::Pins& pins, const std::optional<std::string>& found) {
  const std::string expected = pins.cmake_version.empty() ? "any" : pins.cmake_version.text();
  if (!found || found->empty())
    return result("cmake", pins.cmake_version.empty() ? Status::warn : Status::fail, "cmake not found in PATH",
                  expected, "apt-get install cmake");
  const auto v = parse_version(*found);
  if (!pins.cmake_version.empty() && (!v || !pins.cmake_version.matches(*v)))
    return result("cmake", Status::fail, *found, expected,
                  "install CMake " + expected + " (Debian 12: apt-get install cmake, which is 3.25)");
  return result("cmake", Status::ok, *found, expected);
}

TorchProbe run_torch_probe(ProcessLauncher& launcher, const fs::path& probe_exe) {
  TorchProbe p;
  std::error_code ec;
  if (!fs::exists(probe_exe, ec)) {
    p.error = probe_exe.string() + " does not exist";
    return p;
  }
  const fs::path err = probe_stderr_file("torch-probe");
  ProcessSpec spec;
  spec.exe = probe_exe;
  spec.stderr_file = err;
  spec.wall_timeout_s = 60;
  spec.env = {{"OMP_NUM_THREADS", "1"}};
  std::string out;
  ProcessResult r;
  try {
    r = launcher.run(spec, [&](std::string_view line) { out += line; });
  } catch (const std::exception& e) {
    p.error = e.what();
    return p;
  }
  const std::string stderr_text = read_text_file(err);
  fs::remove(err, ec);
  boost::json::error_code jec;
  const boost::json::value v = boost::json::parse(out, jec);
  if (jec || !v.is_object()) {
    p.error = r.timed_out ? "timed out after 60 s"
              : r.signal  ? "killed by signal " + std::to_string(*r.signal)
                          : "exit code " + std::to_string(r.exit_code.value_or(-1));
    if (!stderr_text.empty()) p.error += ": " + stderr_text.substr(0, 500);
    return p;
  }
  try {
    const json_shape::Object o(v);
    p.tensor_ok = o.optional<bool>("tensor_ok");
    p.version = o.optional<std::string>("version");
    p.cuda = o.optional<bool>("cuda");
    p.error = o.optional<std::string>("error");
    p.ran = true;
  } catch (const json_shape::ShapeError& e) {
    p.error = std::string("its line does not read: ") + e.what();
  }
  return p;
}

CheckResult check_libtorch_runs(const TorchProbe& probe) {
  const std::string expected = "a tensor operation runs in a fresh process";
  const std::string fix =
      "reinstall LibTorch (apt-get install --reinstall libtorch1.13 libtorch-dev) and rebuild (cmake --build build); "
      "run build/bin/torchexam-torch-probe to see the error";
  if (!probe.ran)
    return result("libtorch runs", Status::fail, "the LibTorch probe failed: " + probe.error, expected, fix);
  if (!probe.tensor_ok)
    return result("libtorch runs", Status::fail,
                  "LibTorch loads, but a matrix product failed" + (probe.error.empty() ? "" : ": " + probe.error),
                  expected, fix);
  return result("libtorch runs", Status::ok,
                "LibTorch loads in a fresh process and multiplies matrices (its headers say " + probe.version + ")",
                expected);
}

CheckResult check_cuda(const config::Pins& pins, const TorchProbe& probe) {
  const std::string seen = !probe.ran   ? "unknown (the LibTorch probe failed)"
                           : probe.cuda ? "CUDA available"
                                        : "CPU only (no CUDA device or a CPU build of LibTorch)";
  switch (pins.cuda) {
    case config::Pins::Cuda::none:
      return result("cuda", Status::ok, seen, "not needed");
    case config::Pins::Cuda::optional:
      return result("cuda", probe.cuda ? Status::ok : Status::warn, seen, "used when available",
                    "none needed: training runs on the CPU (a CUDA build of LibTorch and a GPU would be faster)");
    case config::Pins::Cuda::required:
      return result("cuda", probe.cuda ? Status::ok : Status::fail, seen, "CUDA available",
                    "install a CUDA build of LibTorch (pytorch.org) with a matching NVIDIA driver and rebuild");
  }
  return result("cuda", Status::ok, seen, "not needed");
}

}  // namespace torchexam::doctor
