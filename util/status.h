// Status and Result<T>: errors as values across every Strata folder.
//
// A Status is ok, or a code plus a human-readable message and a `retryable`
// flag (a transient fault the caller may retry: a store that dropped the
// connection, a busy database). Result<T> holds either a T or a non-ok Status
// (std::expected is C++23; this is the C++20 stand-in). Exceptions never cross
// a folder boundary: they are caught at the cpprestsdk and subprocess edges
// and turned into a Status there.
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace strata {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from the caller (HTTP 400)
  kNotFound,          // no such object (HTTP 404)
  kConflict,          // wrong state, or another operation holds it (409)
  kAlreadyExists,     // a unique name or id is taken (409)
  kUnauthenticated,   // no or bad credentials (401)
  kPermissionDenied,  // policy refuses (403)
  kTooLarge,          // a request or object over a limit (413)
  kNotSupported,      // valid but not implemented or not allowed here (501)
  kCorruption,        // data that fails a check: bad header, bad checksum
  kIoError,           // a file-system or device operation failed
  kUnavailable,       // a dependency is down or timed out (often retryable)
  kInternal,          // a bug or an unexpected state
};

// The code an errno value maps to (Status::FromErrno).
StatusCode CodeOfErrno(int err);

// Returns a stable lower-case name for `code`, e.g. "not_found".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(StatusCode::kNotFound, std::move(msg));
  }
  static Status Conflict(std::string msg) {
    return Status(StatusCode::kConflict, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status Unauthenticated(std::string msg) {
    return Status(StatusCode::kUnauthenticated, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(StatusCode::kPermissionDenied, std::move(msg));
  }
  static Status TooLarge(std::string msg) {
    return Status(StatusCode::kTooLarge, std::move(msg));
  }
  static Status NotSupported(std::string msg) {
    return Status(StatusCode::kNotSupported, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(StatusCode::kCorruption, std::move(msg));
  }
  static Status IoError(std::string msg) {
    return Status(StatusCode::kIoError, std::move(msg));
  }
  // A Status built from errno: "<what>: <strerror(err)>", its code mapped
  // once for every caller (CodeOfErrno): ENOENT/ENOTDIR NotFound,
  // EEXIST/ENOTEMPTY AlreadyExists, network timeouts and refusals
  // Unavailable (retryable), everything else IoError.
  static Status FromErrno(std::string_view what, int err);
  static Status Unavailable(std::string msg, bool retryable = true) {
    Status s(StatusCode::kUnavailable, std::move(msg));
    s.retryable_ = retryable;
    return s;
  }
  static Status Internal(std::string msg) {
    return Status(StatusCode::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // True when the same call may succeed if tried again later.
  bool retryable() const { return retryable_; }
  Status& SetRetryable(bool r) {
    retryable_ = r;
    return *this;
  }

  // "not_found: snapshot abc does not exist" (or "ok").
  std::string ToString() const;
  // The same status with "<context>: " put before the message.
  Status WithContext(std::string_view context) const;
  // The same status (code, retryable) with `message` instead.
  Status WithMessage(std::string message) const;

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsConflict() const { return code_ == StatusCode::kConflict; }

 private:
  Status(StatusCode code, std::string msg)
      : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  bool retryable_ = false;
};

// Either a value or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result needs a non-ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error, or OK when a value is held.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace strata

#define STRATA_CONCAT_INNER_(a, b) a##b
#define STRATA_CONCAT_(a, b) STRATA_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (a Status) is not ok.
#define STRATA_RETURN_IF_ERROR(expr) \
  do {                               \
    ::strata::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status.
#define STRATA_ASSIGN_OR_RETURN(lhs, expr)           \
  auto STRATA_CONCAT_(_res_, __LINE__) = (expr);     \
  if (!STRATA_CONCAT_(_res_, __LINE__).ok())         \
    return STRATA_CONCAT_(_res_, __LINE__).status(); \
  lhs = std::move(STRATA_CONCAT_(_res_, __LINE__)).value()
