#include "app/admin_commands.hpp"

#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>

#include "app/config.hpp"
#include "auth/user_service.hpp"
#include "domain/errors.hpp"
#include "domain/job.hpp"
#include "obs/log.hpp"
#include "store/soci_store.hpp"
#include "token/signing_key.hpp"

namespace v2m::app {

namespace {

class UsageError final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string ReadLineNoEcho(const char* prompt) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
    termios old_mode{};
    tcgetattr(STDIN_FILENO, &old_mode);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_mode);
    std::fputs("\n", stderr);
    return line;
}

// From standard input (one line) or, on a terminal, typed twice without echo.
std::string ReadPassword(bool from_stdin) {
    if (from_stdin) {
        std::string line;
        if (!std::getline(std::cin, line)) throw UsageError("no password on standard input");
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    if (!::isatty(STDIN_FILENO))
        throw UsageError("give --password-stdin, or run on a terminal to type the password");
    std::string first = ReadLineNoEcho("Password: ");
    std::string second = ReadLineNoEcho("Again: ");
    if (first != second) throw UsageError("the passwords differ");
    return first;
}

// Runs an administrative action with the one error policy of the commands.
template <typename Fn>
int Guarded(Fn&& fn) {
    try {
        // Notes such as "applied 2 migrations" go to stderr: stdout is the
        // command's answer (user list --json).
        obs::InitLogging({.format = "text", .level = "info"});
        fn();
        return 0;
    } catch (const domain::ClientError& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return e.status() == 404 || e.status() == 409 ? 1 : 2;
    } catch (const UsageError& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }
}

struct Session {
    std::unique_ptr<store::SociStore> db;
    auth::PasswordHasher hasher;
    auth::UserService users;

    explicit Session(const AdminConfig& config)
        : db(OpenDatabase({config.database.url, 1, std::chrono::seconds(0)}, std::stop_token())),
          hasher(config.password),
          users(*db, hasher, NowMs) {}
};

}  // namespace

int RunUserAdd(const AdminConfig& config, const std::string& email, bool admin, bool password_stdin) {
    return Guarded([&] {
        const std::string password = ReadPassword(password_stdin);
        Session s(config);
        const auto user = s.users.Register(email, password, admin ? store::Role::kAdmin : store::Role::kUser);
        std::cout << "added " << user.email << " (" << store::RoleName(user.role) << ", id " << user.id
                  << ")\n";
    });
}

int RunUserList(const AdminConfig& config, bool json) {
    return Guarded([&] {
        Session s(config);
        const auto users = s.users.List();
        if (json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& u : users) {
                out.push_back({{"id", u.id},
                               {"email", u.email},
                               {"role", store::RoleName(u.role)},
                               {"disabled", u.disabled},
                               {"created_at", domain::FormatRfc3339(u.created_at_ms)}});
            }
            std::cout << out.dump(2) << '\n';
            return;
        }
        std::printf("%-40s %-6s %-9s %s\n", "EMAIL", "ROLE", "STATE", "CREATED");
        for (const auto& u : users) {
            std::printf("%-40s %-6s %-9s %s\n", u.email.c_str(), std::string(store::RoleName(u.role)).c_str(),
                        u.disabled ? "disabled" : "active", domain::FormatRfc3339(u.created_at_ms).c_str());
        }
    });
}

int RunUserPasswd(const AdminConfig& config, const std::string& email, bool password_stdin) {
    return Guarded([&] {
        const std::string password = ReadPassword(password_stdin);
        Session s(config);
        s.users.SetPassword(email, password);
        std::cout << "password changed for " << email << '\n';
    });
}

int RunUserSetDisabled(const AdminConfig& config, const std::string& email, bool disabled) {
    return Guarded([&] {
        Session s(config);
        s.users.SetDisabled(email, disabled);
        std::cout << (disabled ? "disabled " : "enabled ") << email << '\n';
    });
}

int RunMigrate(const DatabaseConfig& config) {
    return Guarded([&] {
        store::SociStore db({config.url, 1});
        const int applied = db.Migrate();
        std::cout << "applied " << applied << " migration(s) to " << db.redacted_url() << '\n';
    });
}

int RunKeygen(const std::string& path) {
    return Guarded([&] {
        const token::SigningKey key = token::GenerateSigningKey();
        key.WritePrivateKeyPem(path);
        std::cout << "wrote " << path << " (ES256, kid " << key.Kid() << ")\n";
    });
}

int RunEnv(bool json) {
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const Variable& v : Variables()) {
            out.push_back(
                {{"name", v.name}, {"default", v.default_value}, {"meaning", v.meaning}, {"roles", v.roles}});
        }
        std::cout << out.dump(2) << '\n';
        return 0;
    }
    for (const Variable& v : Variables()) {
        std::cout << v.name << '=' << v.default_value << "\n    " << v.meaning << " [" << v.roles << "]\n";
    }
    return 0;
}

}  // namespace v2m::app
