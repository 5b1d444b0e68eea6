#include "sandbox/filesystem.hpp"

#include "sandbox/layers.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <string>

namespace torchexam::sandbox {

namespace fs = std::filesystem;

namespace {

constexpr const char* kRootStep = "filesystem (mount namespace)";
constexpr const char* kLandlockStep = "filesystem (Landlock)";

// System paths every job reads: the loader, libc, LibTorch and its BLAS.
// Not /usr/share (data set packages install there) nor /usr/include.
const char* const kSystemDirs[] = {"/usr/lib",          "/usr/lib32",        "/usr/lib64",
                                   "/usr/libx32",       "/usr/bin",          "/etc/alternatives",
                                   "/etc/ld.so.conf.d", "/sys/devices/system/cpu"};
const char* const kSystemFiles[] = {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/nsswitch.conf",
                                    "/etc/hosts",       "/etc/localtime",  "/etc/host.conf"};
const char* const kRootLinks[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
const char* const kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};

StepError fail(const char* step, const std::string& what) { return StepError{step, errno, what}; }

// Creates `target` inside the new root as a directory or an empty file,
// whichever `source` is, with its parents.
bool make_mount_point(const fs::path& source, const fs::path& target) {
  std::error_code ec;
  fs::create_directories(fs::is_directory(source) ? target : target.parent_path(), ec);
  if (ec) {
    errno = ec.value();
    return false;
  }
  if (!fs::is_directory(source)) {
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    close(fd);
  }
  return true;
}

std::optional<StepError> bind(const fs::path& root, const fs::path& source, bool writable, bool device = false) {
  const fs::path target = root / source.relative_path();
  if (!make_mount_point(source, target)) return fail(kRootStep, "mount point for " + source.string());
  if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return fail(kRootStep, "bind " + source.string());
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (device ? 0 : MS_NODEV) | (writable ? 0 : MS_RDONLY);
  if (mount(nullptr, target.c_str(), nullptr, flags, nullptr) != 0)
    return fail(kRootStep, "remount " + source.string() + (writable ? " nosuid" : " read-only"));
  return std::nullopt;
}

// /etc/passwd and /etc/group of the minimal root: root, nobody and the
// runner's own uid, so that getpwuid() answers for every identity a job can
// have without showing the host's accounts.
bool write_identity_files(const fs::path& root) {
  const uid_t uid = getuid();
  const gid_t gid = getgid();
  std::string passwd = "root:x:0:0:root:/root:/usr/sbin/nologin\n";
  std::string group = "root:x:0:\n";
  if (uid != 0 && uid != 65534)
    passwd += "candidate:x:" + std::to_string(uid) + ":" + std::to_string(gid) + "::/tmp:/usr/sbin/nologin\n";
  if (gid != 0 && gid != 65534) group += "candidate:x:" + std::to_string(gid) + ":\n";
  passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
  group += "nogroup:x:65534:\n";
  std::error_code ec;
  fs::create_directories(root / "etc", ec);
  for (const auto& [name, text] : {std::pair{"passwd", &passwd}, std::pair{"group", &group}}) {
    const fs::path file = root / "etc" / name;
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const bool ok = write(fd, text->data(), text->size()) == static_cast<ssize_t>(text->size());
    close(fd);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Step minimal_root_step(const FilesystemView& view) {
  return {kRootStep, [view]() -> std::optional<StepError> {
            if (unshare(CLONE_NEWNS) != 0) return fail(kRootStep, "unshare(CLONE_NEWNS)");
            // Nothing we mount may propagate back to the host.
            if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
              return fail(kRootStep, "make / private");
            // The new root: a tmpfs over one empty directory per user, shared
            // by every job (each mounts over it in its own namespace; the host
            // only ever sees the empty directory).
            const fs::path root = "/tmp/.torchexam-root-" + std::to_string(getuid());
            if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) return fail(kRootStep, "mkdir " + root.string());
            if (mount("torchexam", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") != 0)
              return fail(kRootStep, "tmpfs for the new root");

            for (const char* d : kSystemDirs)
              if (fs::exists(d))
                if (auto err = bind(root, d, false)) return err;
            for (const char* f : kSystemFiles)
              if (fs::exists(f))
                if (auto err = bind(root, f, false)) return err;
            if (!write_identity_files(root)) return fail(kRootStep, "write /etc/passwd and /etc/group");
            for (const char* l : kRootLinks) {
              std::error_code ec;
              if (fs::is_symlink(l, ec)) {
                const fs::path to = fs::read_symlink(l, ec);
                if (!ec && symlink(to.c_str(), (root / fs::path(l).relative_path()).c_str()) != 0)
                  return fail(kRootStep, std::string("symlink ") + l);
              } else if (fs::is_directory(l, ec)) {
                if (auto err = bind(root, l, false)) return err;
              }
            }
            // /dev: a few character devices, bound from the host.
            const fs::path dev = root / "dev";
            fs::create_directories(dev);
            for (const char* d : kDevices)
              if (fs::exists(d))
                if (auto err = bind(root, d, true, true)) return err;
            symlink("/proc/self/fd", (dev / "fd").c_str());
            symlink("/proc/self/fd/0", (dev / "stdin").c_str());
            symlink("/proc/self/fd/1", (dev / "stdout").c_str());
            symlink("/proc/self/fd/2", (dev / "stderr").c_str());
            fs::create_directories(dev / "shm");
            if (mount("shm", (dev / "shm").c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64m,mode=1777") !=
                0)
              return fail(kRootStep, "tmpfs at /dev/shm");
            // The scratch directory.
            fs::create_directories(root / "tmp");
            const std::string tmp_opts = "size=" + std::to_string(view.scratch_bytes) + ",mode=1777";
            if (mount("scratch", (root / "tmp").c_str(), "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts.c_str()) != 0)
              return fail(kRootStep, "tmpfs at /tmp (" + tmp_opts + ")");
            // The job's own paths, at the same absolute paths as outside.
            for (const auto& e : view.exposed)
              if (auto err = bind(root, e.path, e.writable)) return err;
            // A /proc for this PID namespace only: the daemon and the host's
            // processes are not in it.
            fs::create_directories(root / "proc");
            if (mount("proc", (root / "proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
              return fail(kRootStep, "mount /proc");

            // The tmpfs root itself becomes read-only: nothing outside /tmp and
            // the writable exposures can be created.
            const fs::path old = root / ".old-root";
            fs::create_directories(old);
            if (syscall(SYS_pivot_root, root.c_str(), old.c_str()) != 0) return fail(kRootStep, "pivot_root");
            if (chdir("/") != 0) return fail(kRootStep, "chdir(/)");
            if (umount2("/.old-root", MNT_DETACH) != 0) return fail(kRootStep, "detach the old root");
            rmdir("/.old-root");
            if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
              return fail(kRootStep, "remount / read-only");
            setenv("TMPDIR", "/tmp", 1);
            return std::nullopt;
          }};
}

// ---- Landlock ------------------------------------------------------------

namespace {

// Debian 12's headers stop at ABI 3: the later constants are defined here.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
struct PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

constexpr uint64_t kExecute = 1ull << 0, kWriteFile = 1ull << 1, kReadFile = 1ull << 2, kReadDir = 1ull << 3;
constexpr uint64_t kTruncate = 1ull << 14, kIoctlDev = 1ull << 15;
constexpr uint64_t kNetBindTcp = 1ull << 0, kNetConnectTcp = 1ull << 1;
constexpr uint64_t kScopeAbstractUnix = 1ull << 0, kScopeSignal = 1ull << 1;
constexpr uint32_t kRulePathBeneath = 1;

uint64_t fs_rights(int abi) {
  uint64_t all = (1ull << 13) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) all |= 1ull << 13;  // refer
  if (abi >= 3) all |= kTruncate;
  if (abi >= 5) all |= kIoctlDev;
  return all;
}

constexpr uint64_t kFileOnly = kExecute | kWriteFile | kReadFile | kTruncate | kIoctlDev;

}  // namespace

Step landlock_step(const FilesystemView& view, const LandlockOptions& options, int* abi_used) {
  return {kLandlockStep, [view, options, abi_used]() -> std::optional<StepError> {
            const int abi = landlock_abi();
            if (abi < 1) {
              errno = -abi;
              return fail(kLandlockStep, "landlock_create_ruleset(VERSION)");
            }
            if (abi_used) *abi_used = abi;
            const uint64_t all = fs_rights(abi);
            RulesetAttr attr{all, 0, 0};
            size_t size = sizeof(uint64_t);
            if (abi >= 4 && options.refuse_tcp) {
              attr.handled_access_net = kNetBindTcp | kNetConnectTcp;  // and no rule allows any port
              size = 2 * sizeof(uint64_t);
            }
            if (abi >= 6 && options.scope_outside) {
              attr.scoped = kScopeAbstractUnix | kScopeSignal;
              size = sizeof attr;
            }
            const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
            if (ruleset < 0) return fail(kLandlockStep, "landlock_create_ruleset");
            auto allow = [&](const fs::path& p, uint64_t rights) -> std::optional<StepError> {
              const int fd = open(p.c_str(), O_PATH | O_CLOEXEC);
              if (fd < 0) return std::nullopt;  // absent: nothing to allow
              struct stat st {};
              fstat(fd, &st);
              PathBeneathAttr rule{rights & all & (S_ISDIR(st.st_mode) ? ~0ull : kFileOnly), fd};
              const long rc = syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &rule, 0);
              const int err = errno;
              close(fd);
              if (rc != 0) {
                errno = err;
                return fail(kLandlockStep, "landlock_add_rule(" + p.string() + ")");
              }
              return std::nullopt;
            };
            const uint64_t read = kExecute | kReadFile | kReadDir;
            std::optional<StepError> err;
            for (const char* d : kSystemDirs)
              if (!err) err = allow(d, read);
            for (const char* f : kSystemFiles)
              if (!err) err = allow(f, read);
            for (const char* l : kRootLinks)
              if (!err) err = allow(l, read);
            for (const char* d : kDevices)
              if (!err) err = allow(d, kReadFile | kWriteFile);
            if (!err) err = allow("/proc/self", kReadFile | kReadDir);
            if (!err) err = allow("/dev/shm", all);
            for (const auto& e : view.exposed)
              if (!err) err = allow(e.path, e.writable ? all : read);
            if (err) {
              close(ruleset);
              return err;
            }
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
              close(ruleset);
              return fail(kLandlockStep, "prctl(NO_NEW_PRIVS)");
            }
            const long rc = syscall(SYS_landlock_restrict_self, ruleset, 0);
            const int e = errno;
            close(ruleset);
            if (rc != 0) {
              errno = e;
              return fail(kLandlockStep, "landlock_restrict_self");
            }
            return std::nullopt;
          }};
}

}  // namespace torchexam::sandbox
