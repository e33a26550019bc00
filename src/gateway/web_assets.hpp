#pragma once

#include <span>
#include <string_view>

namespace v2m::gateway {

/// A file of `web/`, built into the binary (src/gateway/CMakeLists.txt).
struct WebAsset {
    std::string_view name;  ///< "index.html", "app.js", …
    std::string_view content_type;
    std::string_view body;
};

/// Every file of `web/`.
std::span<const WebAsset> WebAssets();

}  // namespace v2m::gateway
