#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v2m::http {

/// A byte range of a representation; both ends inclusive, `first <= last`.
struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};

enum class RangeKind {
    kNone,           ///< no usable Range header: send the whole representation (200)
    kSatisfiable,    ///< send `range` (206 with `ContentRange`)
    kUnsatisfiable,  ///< 416 with `Content-Range: UnsatisfiedRange(size)`
};

struct RangeResult {
    RangeKind kind = RangeKind::kNone;
    ByteRange range;  ///< meaningful only for `kSatisfiable`
};

/// Interprets a `Range` header (RFC 9110 §14.2) for a representation of
/// `size` bytes. Understands one `bytes` range: `bytes=a-b`, `bytes=a-` and
/// the suffix `bytes=-n`, with optional whitespace and empty list elements;
/// the unit is case-insensitive.
///
/// - A last byte at or past the end is clamped to `size - 1`; a suffix longer
///   than the representation selects all of it.
/// - `first >= size`, a zero-length suffix, or any range of an empty
///   representation is `kUnsatisfiable`.
/// - An empty header, another unit, bad syntax, `a > b`, a number that does
///   not fit 64 bits, and several ranges are all `kNone`: RFC 9110 lets a
///   server ignore such a header and send the whole representation.
///
/// Pure; never throws.
RangeResult ParseRange(std::string_view header, std::uint64_t size);

/// The `Content-Range` value of a 206: `bytes first-last/size`.
std::string ContentRange(const ByteRange& range, std::uint64_t size);

/// The `Content-Range` value of a 416: `bytes */size`.
std::string UnsatisfiedRange(std::uint64_t size);

}  // namespace v2m::http
