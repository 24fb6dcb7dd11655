// OpenStack faults. See faults.h.
#include "api/faults.h"

namespace strata::api {

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kNotSupported:
      return 501;
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
  }
  return 500;
}

std::string FaultName(int http_status) {
  switch (http_status) {
    case 400:
      return "badRequest";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "itemNotFound";
    case 405:
      return "badMethod";
    case 406:
      return "notAcceptable";
    case 409:
      return "conflictingRequest";
    case 413:
      return "overLimit";
    case 415:
      return "badMediaType";
    case 501:
      return "notImplemented";
    case 503:
      return "serviceUnavailable";
    default:
      return "computeFault";
  }
}

nlohmann::json FaultBody(int http_status, const std::string& message) {
  return {
      {FaultName(http_status), {{"code", http_status}, {"message", message}}}};
}

}  // namespace strata::api
