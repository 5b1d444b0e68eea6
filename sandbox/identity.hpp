// identity.hpp — who the job runs as, and what it inherits.
//
// drop_privileges_step: a job started as root becomes an unprivileged user
// (nobody, 65534) with no supplementary groups, an empty capability bounding
// set and no capabilities; the writable exposures are handed to that user
// first. A job started by a normal user keeps its uid (it has no
// capabilities to drop outside its own user namespace) and only gets the
// empty bounding set where it may change it.
//
// clean_environment_step: the environment is cleared to an allow-list
// (PATH, HOME = the job directory, LANG, TMPDIR, OpenMP/BLAS thread counts):
// nothing of the daemon's (its socket, state directory, tokens) reaches
// candidate code.
#pragma once

#include "sandbox/steps.hpp"

#include <filesystem>
#include <vector>

namespace torchexam::sandbox {

struct Identity {
  uid_t uid = 65534;
  gid_t gid = 65534;
};

// `writable` are chowned to the new identity when the job starts as root.
Step drop_privileges_step(const Identity& id, std::vector<std::filesystem::path> writable);

Step clean_environment_step(const std::filesystem::path& home);

// The variables clean_environment_step keeps (besides setting HOME).
const std::vector<const char*>& environment_allow_list();

}  // namespace torchexam::sandbox
