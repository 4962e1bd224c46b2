#ifndef C_TEST_SHIMS_H
#define C_TEST_SHIMS_H

#include <spawn.h>

/// Makes a spawned child close every descriptor from `from` up (glibc's
/// posix_spawn_file_actions_addclosefrom_np, declared only under _GNU_SOURCE).
int spw_test_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
