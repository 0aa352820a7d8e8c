// Status and Result<T>: the value types every module returns across its edges.
//
// Library exceptions (cpprestsdk, nlohmann, pybind11, librdkafka) are caught at
// the module edge and turned into a Status with context. The code tells callers
// whether trying again can help (see isRetryable()). Thread-compatible values.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sluice {

enum class StatusCode {
  kOk,
  kInvalidArgument,  // the input is wrong; retrying the same input cannot help
  kNotFound,
  kAlreadyExists,
  kConflict,           // optimistic-concurrency conflict: re-read and retry
  kGone,               // a resourceVersion or cursor expired: start over
  kUnavailable,        // network or server trouble: retry with backoff
  kResourceExhausted,  // throttled (HTTP 429): retry after the advised delay
  kDeadlineExceeded,
  kCancelled,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kInternal,
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Network trouble, throttling, conflicts and timeouts may succeed later.
  bool isRetryable() const;

  // Prefixes the message with where it happened: "reading kubeconfig: ...".
  Status withContext(const std::string& context) const;

  // "Unavailable: connection refused" (or "OK").
  std::string toString() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string message) { return {StatusCode::kInvalidArgument, std::move(message)}; }
inline Status notFound(std::string message) { return {StatusCode::kNotFound, std::move(message)}; }
inline Status unavailable(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
inline Status internalError(std::string message) { return {StatusCode::kInternal, std::move(message)}; }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor): Result<T> r = value;
  Result(Status status) : state_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(state_).isOk() && "Result<T> needs a value or an error");
  }

  bool isOk() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return isOk(); }

  const Status& status() const {
    static const Status kOkStatus;
    return isOk() ? kOkStatus : std::get<Status>(state_);
  }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace sluice
