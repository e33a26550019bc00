#include "blob/blob_store.hpp"

#include <algorithm>
#include <stdexcept>

#include "blob/file_blob_store.hpp"
#include "blob/pg_blob_store.hpp"

namespace v2m::blob {

namespace {
constexpr std::size_t kIdLength = 32;
constexpr std::string_view kFileScheme = "file://";
// libpq takes both spellings of the URI scheme.
constexpr std::string_view kPostgresSchemes[] = {"postgresql://", "postgres://"};
}  // namespace

bool IsBlobId(std::string_view id) {
    return id.size() == kIdLength && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::unique_ptr<BlobStore> OpenBlobStore(const std::string& url) {
    if (url.starts_with(kFileScheme)) {
        const std::string dir = url.substr(kFileScheme.size());
        if (dir.empty()) {
            throw std::invalid_argument(
                "blob store URL 'file://' names no directory (file:///abs/dir or file://rel/dir)");
        }
        return std::make_unique<FileBlobStore>(dir);
    }
    for (const std::string_view scheme : kPostgresSchemes) {
        if (url.starts_with(scheme)) return std::make_unique<PgBlobStore>(url);
    }
    // Only the scheme is echoed: the rest of a URL may carry credentials.
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos || scheme_end == 0) {
        throw std::invalid_argument("blob store URL must look like file://DIR or postgresql://…");
    }
    throw std::invalid_argument("blob store URL scheme '" + url.substr(0, scheme_end) +
                                "' is not supported (only file://DIR and postgresql://…)");
}

}  // namespace v2m::blob
