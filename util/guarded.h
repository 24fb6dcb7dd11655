// Exceptions stop at thread edges (issue 16, item 3). Strata's code returns
// Status values, but the libraries it calls (the standard library's
// allocations and containers, cpprestsdk, nlohmann::json) may throw, and an
// exception that leaves a thread's entry function ends the whole daemon in
// std::terminate, with VMs redirected into the cache and tasks half done.
// Every thread entry and every engine task runs through one of these, so
// an exception becomes a Status on the failure path that is already there
// (a task ends in error, a connection closes, a loop goes on).
//
// Each call first passes ThrowPoint(where) (util/crash_point.h): the test
// build throws there when STRATA_THROW_AT names `where`, to prove the edge
// holds.
// Thread-safety: reentrant.
#pragma once

#include <exception>
#include <string>

#include "util/crash_point.h"
#include "util/log.h"
#include "util/status.h"

namespace strata {

// fn() (returning Status), or Internal("<where>: exception: <what>").
template <class F>
[[nodiscard]] Status CatchAll(const char* where, F&& fn) noexcept {
  try {
    ThrowPoint(where);
    return fn();
  } catch (const std::exception& e) {
    return Status::Internal(std::string(where) + ": exception: " + e.what());
  } catch (...) {
    return Status::Internal(std::string(where) + ": unknown exception");
  }
}

// fn() (returning nothing); an exception is logged as an error.
template <class F>
void RunLogged(const char* where, F&& fn) noexcept {
  Status s = CatchAll(where, [&] {
    fn();
    return Status::OK();
  });
  if (!s.ok()) LogError(s.message());
}

}  // namespace strata
