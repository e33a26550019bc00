#pragma once

#include <span>
#include <string>
#include <string_view>

namespace v2m::app {

/// One environment variable the binary reads. This table is the one source
/// of names, defaults and meanings: the flags are made from it, `video2mp3
/// env` prints it, and the README and manifests are checked against it.
struct Variable {
    std::string_view name;           ///< "V2M_DATABASE_URL"
    std::string_view default_value;  ///< as text; empty when none or when computed (see `meaning`)
    std::string_view meaning;
    std::string_view roles;  ///< who reads it: "auth", "convert", "all roles", …
    /// The value may instead come from a file (Kubernetes Secrets) that the
    /// variable NAME_FILE names; `Variables()` lists that one right after this.
    bool from_file = false;
};

std::span<const Variable> Variables();
/// Throws `std::out_of_range` for a name not in the table (a programming error).
const Variable& FindVariable(std::string_view name);
/// "V2M_DATABASE_URL" → "--database-url".
std::string FlagFor(std::string_view name);

/// Reads a secret from a file named by `NAME_FILE` (Kubernetes Secrets),
/// without its trailing newline. Throws `std::runtime_error` when unreadable.
std::string ReadSecretFile(const std::string& path);

/// The setting of variable `name` (one marked `from_file`): `value` as given,
/// or, while that is still the variable's default and `file` (NAME_FILE's
/// value) is set, the file's content. Throws `std::runtime_error` when the
/// file is unreadable.
std::string ValueOrSecretFile(std::string_view name, const std::string& value, const std::string& file);

}  // namespace v2m::app
