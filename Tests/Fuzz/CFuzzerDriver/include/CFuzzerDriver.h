#ifndef CFUZZER_DRIVER_H
#define CFUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry for programs with their own main (LLVM 11 and later). Linked only when the
/// program is built with -sanitize=fuzzer; the fuzz runner calls it only in that build (-D FUZZING).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
