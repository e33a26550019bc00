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

/// The name of the MP3 made from an upload called `upload_name`: its last path
/// component (after `/` or `\`), leading dots dropped, its extension replaced
/// by `.mp3` ("song.mp4" → "song.mp3", "archive.tar.gz" → "archive.tar.mp3",
/// "noext" → "noext.mp3", ".hidden" → "hidden.mp3"); "audio.mp3" when nothing
/// is left. Not sanitised for headers: pass it to `AttachmentDisposition`.
std::string Mp3NameFor(std::string_view upload_name);

}  // namespace v2m::http
