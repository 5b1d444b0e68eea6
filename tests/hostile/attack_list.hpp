// attack_list.hpp — the attacks of tests/hostile/attacks.cpp, by name and
// number, shared by the candidate side and the test (tests/e2e/test_hostile.cpp).
//
// The test sends the number (1-based, in this order) with the signal that
// releases the held job; attacks.cpp runs that attack. Plain C++ with no
// includes: the test puts this text in front of attacks.cpp to make the one
// solution file it grades, so every attack is the same source and the
// suite compiles it once (the build cache is keyed by content).
#pragma once

#define TORCHEXAM_HOSTILE_ATTACKS(X) \
  X(spin_one)                        \
  X(spin_many)                       \
  X(ignore_sigterm)                  \
  X(fork_bomb)                       \
  X(thread_bomb)                     \
  X(touch_50g)                       \
  X(reserve_50g)                     \
  X(fill_scratch)                    \
  X(many_files)                      \
  X(many_fds)                        \
  X(flood_stdout)                    \
  X(tcp_loopback)                    \
  X(dns)                             \
  X(abstract_unix)                   \
  X(path_unix)                       \
  X(netlink)                         \
  X(read_shadow)                     \
  X(read_passwd)                     \
  X(proc_spy)                        \
  X(labels_by_path)                  \
  X(labels_by_dotdot)                \
  X(labels_by_symlink)               \
  X(inherited_fd)                    \
  X(write_outside)                   \
  X(symlink_output)                  \
  X(setsid_daemon)                   \
  X(kill_all)                        \
  X(kill_parent)                     \
  X(ptrace)                          \
  X(unshare)                         \
  X(mount)                           \
  X(bpf)                             \
  X(fake_verdict)                    \
  X(forged_internal_error)           \
  X(forged_predictions)              \
  X(huge_message)                    \
  X(timeout_checkpoint)              \
  X(abort_late)                      \
  X(many_threads)                    \
  X(spoofed_exit)                    \
  X(control)

enum class Attack : int {
  none = 0,
#define TORCHEXAM_HOSTILE_ENUM(name) name,
  TORCHEXAM_HOSTILE_ATTACKS(TORCHEXAM_HOSTILE_ENUM)
#undef TORCHEXAM_HOSTILE_ENUM
      end
};
