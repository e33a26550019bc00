#include "token/claims.hpp"

namespace v2m::token {

std::string_view ToString(Role role) { return role == Role::kAdmin ? "admin" : "user"; }

Clock SystemClock() {
    return [] { return std::chrono::system_clock::now(); };
}

}  // namespace v2m::token
