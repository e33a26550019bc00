#include "store/migrations.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

namespace v2m::store {

using detail::kEmbeddedMigrationCount;
using detail::kEmbeddedMigrations;

std::vector<std::string> SplitStatements(const std::string& sql) {
    std::vector<std::string> out;
    std::string current;
    std::istringstream lines(sql);
    std::string line;
    while (std::getline(lines, line)) {
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line.compare(first, 2, "--") == 0) continue;
        auto last = line.find_last_not_of(" \t\r");
        const bool ends = line[last] == ';';
        current += line.substr(0, ends ? last : last + 1);
        current += '\n';
        if (ends) {
            out.push_back(std::move(current));
            current.clear();
        }
    }
    if (current.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(std::move(current));
    return out;
}

std::vector<Migration> MigrationsFor(Dialect dialect) {
    // name → (generic text, dialect text)
    std::map<std::string, std::pair<const char*, const char*>> files;
    const std::string suffix = "." + std::string(DialectName(dialect)) + ".sql";
    for (int i = 0; i < kEmbeddedMigrationCount; ++i) {
        std::string name = kEmbeddedMigrations[i].name;
        const auto first_dot = name.find('.');
        const std::string base = name.substr(0, first_dot);
        const std::string rest = name.substr(first_dot);
        if (rest == ".sql") {
            files[base].first = kEmbeddedMigrations[i].text;
        } else if (rest == suffix) {
            files[base].second = kEmbeddedMigrations[i].text;
        }
    }
    std::vector<Migration> out;
    for (const auto& [base, texts] : files) {
        const char* text = texts.second ? texts.second : texts.first;
        if (!text) continue;
        Migration m;
        m.version = std::stoi(base.substr(0, base.find('_')));
        m.name = base;
        m.statements = SplitStatements(text);
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace v2m::store
