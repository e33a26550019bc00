"""An aiosmtpd handler for the tests: every accepted message becomes a file.

scripts/testenv runs it as

    /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c testenv_smtp.MaildirHandler DIR

Each message is written to DIR/<arrival time in ns>-<pid>-<n>.eml: the envelope
as `X-Envelope-From:` and one `X-Envelope-To:` per recipient (so Bcc can be
checked), then the message exactly as received. The file is written under a
dot name and then renamed, so a test that lists `*.eml` never reads half a
message; names sort in arrival order.
"""

import itertools
import os
import time


class MaildirHandler:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._seq = itertools.count(1)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("MaildirHandler takes one argument: the directory to write messages to")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.eml"
        envelope_headers = f"X-Envelope-From: {envelope.mail_from}\r\n" + "".join(
            f"X-Envelope-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos
        )
        body = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(envelope_headers.encode("utf-8"))
            f.write(body)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"
