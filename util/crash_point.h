// Crash injection for crash-safety tests.
//
// Every step of a disk operation calls CrashPoint("<op>.<step>") right after
// its journal entry is durable. In test binaries (stratad_crash_points, the
// unit tests: linked with strata_crash_points_on, built with
// STRATA_FAULT_INJECTION), when the environment variable STRATA_CRASH_AT
// names that step, the process ends at once with _exit(86) — no destructors,
// no flushes — as kill -9 would. The product stratad links the build without
// it, where STRATA_CRASH_AT does nothing. STRATA_STOP_AT stops the process
// (SIGSTOP) at the step instead, for a test to change the world under a
// task before it goes on (SIGCONT).
// Thread-safety: safe from any thread.
#pragma once

namespace strata {

void CrashPoint(const char* step);

// Exception injection at thread entries (util/guarded.h), in the same test
// binaries: when the environment variable STRATA_THROW_AT names `entry`
// (read at each call), throws std::runtime_error. Does nothing in the
// product.
void ThrowPoint(const char* entry);

}  // namespace strata
