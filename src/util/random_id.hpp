#pragma once

#include <string>

namespace v2m::util {

/// 128 bits from the kernel's CSPRNG as 32 lower-case hex digits: ids that
/// cannot be guessed (users, jobs, blobs). Thread-safe.
std::string RandomId();

}  // namespace v2m::util
