// Status: names and formatting. See status.h.
#include "util/status.h"

#include <cerrno>
#include <cstring>

namespace strata {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kNotSupported:
      return "not_supported";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

StatusCode CodeOfErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return StatusCode::kNotFound;
    case EEXIST:
    case ENOTEMPTY:
      return StatusCode::kAlreadyExists;
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return StatusCode::kUnavailable;
    default:
      // EACCES/EPERM too: a file Strata cannot reach is its own fault, not
      // the caller's (403 would say the caller may not).
      return StatusCode::kIoError;
  }
}

Status Status::FromErrno(std::string_view what, int err) {
  Status s(CodeOfErrno(err), std::string(what) + ": " + std::strerror(err));
  s.retryable_ = s.code_ == StatusCode::kUnavailable;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(context) + ": " + message_;
  return s;
}

Status Status::WithMessage(std::string message) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::move(message);
  return s;
}

}  // namespace strata
