#pragma once

#include <string>

#include "app/roles.hpp"

namespace v2m::app {

struct AdminConfig {
    DatabaseConfig database;
    auth::PasswordSettings password;
};

/// `video2mp3 user add|list|passwd|disable|enable`, `migrate`, `keygen`, `env`.
/// Each prints one line on failure and returns the exit status (0, 1 for a
/// failure of the system, 2 for a usage mistake).
int RunUserAdd(const AdminConfig& config, const std::string& email, bool admin, bool password_stdin);
int RunUserList(const AdminConfig& config, bool json);
int RunUserPasswd(const AdminConfig& config, const std::string& email, bool password_stdin);
int RunUserSetDisabled(const AdminConfig& config, const std::string& email, bool disabled);
int RunMigrate(const DatabaseConfig& config);
int RunKeygen(const std::string& path);
int RunEnv(bool json);

}  // namespace v2m::app
