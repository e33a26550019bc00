"""An aiosmtpd handler for the tests: every accepted message becomes a file.

scripts/testenv runs it as

    /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c testenv_smtp.MaildirHandler DIR

Each message is written to DIR/<arrival time in ns>-<pid>-<n>.eml: the envelope
as `X-Envelope-From:` and one `X-Envelope-To:` per recipient (so Bcc can be
checked), then `X-Envelope-Helo:` (the client's EHLO/HELO name),
`X-Envelope-TLS:` (`yes` or `no`) and, after a successful AUTH,
`X-Envelope-Auth:` (the login), then the message exactly as received. The file
is written under a dot name and then renamed, so a test that lists `*.eml`
never reads half a message; names sort in arrival order.

Recipients whose address (case-insensitive) starts with
  `reject`    are refused at RCPT with 550 (a permanent failure),
  `tempfail`  are refused at RCPT with 451 (a transient failure),
  `refuse`    are accepted, but the message is then refused after DATA with 554,
  `stall`     are accepted, but the reply to the message never comes (the
              session waits 60 s, then answers 451; a client that gives up
              first ends it).
Nothing is written for a refused or stalled message.

Run as a script, it is a catcher of its own with what the default one lacks:

    /usr/bin/python3 testenv_smtp.py --listen 127.0.0.1:PORT [--auth USER:PASSWORD]
        [--starttls CERT KEY | --smtps CERT KEY] DIR

--auth requires AUTH (PLAIN or LOGIN) with these credentials before MAIL (after
STARTTLS with --starttls); --starttls offers and requires STARTTLS; --smtps
speaks TLS from the first byte (implicit TLS). It prints `ready` once
listening and runs until SIGTERM or SIGINT.
"""

import asyncio
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

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.lower()
        if local.startswith("reject"):
            return "550 5.1.1 Recipient refused (test catcher: reject*)"
        if local.startswith("tempfail"):
            return "451 4.3.0 Try again later (test catcher: tempfail*)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.lower().startswith("refuse") for rcpt in envelope.rcpt_tos):
            return "554 5.6.0 Message refused (test catcher: refuse*)"
        if any(rcpt.lower().startswith("stall") for rcpt in envelope.rcpt_tos):
            await asyncio.sleep(60)
            return "451 4.3.0 Stalled (test catcher: stall*)"
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.eml"
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        envelope_headers = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            + "".join(f"X-Envelope-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos)
            + f"X-Envelope-Helo: {session.host_name}\r\n"
            + f"X-Envelope-TLS: {'yes' if tls else 'no'}\r\n"
            + (f"X-Envelope-Auth: {session.auth_data}\r\n" if session.authenticated else "")
        )
        body = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(envelope_headers.encode("utf-8", "surrogateescape"))
            f.write(body)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def _main():
    import argparse
    import logging
    import signal
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    parser = argparse.ArgumentParser(description="A test SMTP catcher with AUTH and TLS.")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with these credentials")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"), help="offer and require STARTTLS")
    tls.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"), help="implicit TLS")
    parser.add_argument("directory")
    args = parser.parse_args()

    host, _, port = args.listen.rpartition(":")
    handler = MaildirHandler(args.directory)

    def context(cert_key):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.check_hostname = False
        ctx.load_cert_chain(*cert_key)
        return ctx

    starttls = context(args.starttls) if args.starttls else None
    smtps = context(args.smtps) if args.smtps else None

    authenticator = None
    if args.auth is not None:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, data):
            ok = (
                isinstance(data, LoginPassword)
                and data.login == user.encode()
                and data.password == password.encode()
            )
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    def factory():
        return SMTP(
            handler,
            enable_SMTPUTF8=True,
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # Implicit TLS is not what aiosmtpd counts as TLS for AUTH: require it with STARTTLS only.
            auth_require_tls=starttls is not None,
        )

    logging.basicConfig(level=logging.ERROR)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(factory, host=host, port=int(port), ssl=smtps))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


if __name__ == "__main__":
    _main()
