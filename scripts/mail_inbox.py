"""An SMTP catcher with a web inbox, for `make stack`: every message the
notifier sends is kept, and can be read in a browser or as JSON.

    /usr/bin/python3 scripts/mail_inbox.py --smtp 127.0.0.1:1025 --web 127.0.0.1:1080 DIR

SMTP: Debian's aiosmtpd with the tests' handler (scripts/testenv_smtp.py), so
every accepted message becomes DIR/<arrival>.eml, envelope headers first.
Web (loopback only; no authentication — it is a development tool):
  GET /                  the inbox, newest first: sender, recipients, subject,
                         date and the text part of each message
  GET /email             the same as JSON: [{"id", "date", "subject",
                         "from": [{"address", "name"}], "to": [...], "text",
                         "html"}]
  GET /email/ID.eml      one message as received
Runs until SIGTERM or SIGINT; prints `ready` once both servers listen.
"""

import argparse
import email
import email.policy
import email.utils
import html
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testenv_smtp import MaildirHandler  # noqa: E402  (one handler for tests and the stack)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def addresses(value):
    return [{"address": a, "name": n} for n, a in email.utils.getaddresses([value or ""]) if a]


def part(message, subtype):
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


def read_messages(directory):
    """The kept messages, newest first."""
    names = sorted((n for n in os.listdir(directory) if n.endswith(".eml") and not n.startswith(".")),
                   reverse=True)
    out = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            message = email.message_from_binary_file(f, policy=email.policy.default)
        out.append({
            "id": name[:-len(".eml")],
            "date": str(message.get("Date", "")),
            "subject": str(message.get("Subject", "")),
            "from": addresses(message.get("From")),
            "to": addresses(message.get("To")),
            "text": part(message, "plain"),
            "html": part(message, "html"),
        })
    return out


def make_handler(directory):
    class Inbox(BaseHTTPRequestHandler):
        def send(self, status, content_type, body):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (the library's name)
            path = self.path.split("?", 1)[0]
            if path == "/email":
                self.send(200, "application/json", json.dumps(read_messages(directory)))
            elif path.startswith("/email/") and path.endswith(".eml"):
                name = os.path.basename(path)
                full = os.path.join(directory, name)
                if name.startswith(".") or not os.path.isfile(full):
                    self.send(404, "text/plain; charset=utf-8", "no such message\n")
                    return
                with open(full, "rb") as f:
                    self.send(200, "message/rfc822", f.read())
            elif path == "/":
                self.send(200, "text/html; charset=utf-8", page(read_messages(directory)))
            else:
                self.send(404, "text/plain; charset=utf-8", "not found\n")

        def log_message(self, *args):  # quiet: the stack keeps logs small
            pass

    return Inbox


def page(messages):
    rows = []
    for m in messages:
        who = ", ".join(a["address"] for a in m["to"])
        rows.append(
            f'<article><h2>{html.escape(m["subject"])}</h2>'
            f'<p>to {html.escape(who)} · {html.escape(m["date"])} · '
            f'<a href="/email/{html.escape(m["id"])}.eml">source</a></p>'
            f'<pre>{html.escape(m["text"])}</pre></article>')
    body = "\n".join(rows) or "<p>No email yet.</p>"
    return ("<!doctype html><html lang=en><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width'><title>video2mp3 inbox</title>"
            "<style>body{font:16px system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}"
            "article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style>"
            f"<h1>Inbox ({len(messages)})</h1>{body}</html>")


def main():
    parser = argparse.ArgumentParser(description="An SMTP catcher with a web inbox.")
    parser.add_argument("--smtp", required=True, metavar="HOST:PORT")
    parser.add_argument("--web", required=True, metavar="HOST:PORT")
    parser.add_argument("directory")
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)

    smtp_host, smtp_port = host_port(args.smtp)
    controller = Controller(MaildirHandler(args.directory), hostname=smtp_host, port=smtp_port)
    controller.start()
    web = ThreadingHTTPServer(host_port(args.web), make_handler(args.directory))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    print("ready", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    web.shutdown()
    controller.stop()


if __name__ == "__main__":
    main()
