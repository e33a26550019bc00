#pragma once

#include <string>
#include <string_view>

namespace v2m::http {

/// A `Content-Disposition` value that offers `filename` as a download
/// (RFC 6266, with RFC 8187 for names that are not plain ASCII):
/// `attachment; filename="<ascii>"` plus `; filename*=UTF-8''<percent-encoded>`
/// when the ASCII fallback had to change the name.
///
/// The name is cleaned first: invalid UTF-8, control characters (C0, DEL,
/// C1), bidirectional-formatting characters and path separators become `_`;
/// surrounding spaces go; an empty or all-dot name becomes `audio.mp3`; more
/// than 200 bytes are cut at a character boundary, keeping a short extension.
/// In the fallback every other non-ASCII character and `"`, `\`, `;`, `%`
/// become `_`. The result is printable ASCII only, so it can never split or
/// inject a header. Pure; never throws (but `std::bad_alloc`).
std::string AttachmentDisposition(std::string_view filename);

}  // namespace v2m::http
