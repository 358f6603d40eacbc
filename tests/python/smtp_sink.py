"""A loopback SMTP server for the notification tests.

Usage: python3 tests/python/smtp_sink.py OUT_DIR
Listens on 127.0.0.1 on a free port, prints "ready PORT" on stdout, and writes each message
it receives to OUT_DIR/<n>.eml (the raw RFC 5322 text) until it is killed.
"""

import os
import socket
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    """Writes every message to its own file."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.out_dir, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.content)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    out_dir = sys.argv[1]
    port = free_port()
    controller = Controller(Sink(out_dir), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"ready {port}", flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
