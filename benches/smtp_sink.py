"""A local SMTP sink for benches/reminders.sh: accepts every message, keeps nothing but counts.

    python benches/smtp_sink.py --port 2525 --stats /tmp/stats.json

Needs `aiosmtpd` (benches/reminders.sh installs it into a venv under /tmp). Listens on
127.0.0.1 only. Messages are sorted by the start of their Subject ("Reminder:", "Changed:",
"You're going:" ...). Every half second, and at exit (SIGTERM/SIGINT), it writes the stats file
atomically as JSON:

    {"total": N, "duplicates": N, "by_kind": {"reminder": {"count": N, "first": T, "last": T}, ...},
     "per_second": {"reminder": {"<unix second>": N, ...}, ...},
     "subjects": {"<subject>": N, ...}}   (the first 100 distinct subjects)

`duplicates` counts messages whose Message-ID was seen before.
"""

import argparse
import asyncio
import email.parser
import email.policy
import json
import os
import signal
import time

from aiosmtpd.smtp import SMTP

KINDS = [
    ("Reminder:", "reminder"),
    ("Changed:", "changed"),
    ("You're going:", "confirmation"),
    ("Waitlist #", "confirmation"),
    ("Called off:", "cancelled"),
]


class Counter:
    def __init__(self):
        self.total = 0
        self.duplicates = 0
        self.by_kind = {}
        self.per_second = {}
        self.seen = set()
        self.subjects = {}
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        raw = envelope.original_content or envelope.content
        head = raw.split(b"\r\n\r\n", 1)[0]
        headers = self.parser.parsebytes(head)
        subject = str(headers.get("Subject", ""))
        kind = "other"
        for prefix, name in KINDS:
            if subject.startswith(prefix):
                kind = name
                break
        if subject in self.subjects or len(self.subjects) < 100:
            self.subjects[subject] = self.subjects.get(subject, 0) + 1
        message_id = str(headers.get("Message-ID", ""))
        if message_id in self.seen:
            self.duplicates += 1
        self.seen.add(message_id)
        self.total += 1
        entry = self.by_kind.setdefault(kind, {"count": 0, "first": now, "last": now})
        entry["count"] += len(envelope.rcpt_tos)
        entry["last"] = now
        second = str(int(now))
        bucket = self.per_second.setdefault(kind, {})
        bucket[second] = bucket.get(second, 0) + 1
        return "250 OK"

    def dump(self, path):
        data = {
            "total": self.total,
            "duplicates": self.duplicates,
            "by_kind": self.by_kind,
            "per_second": self.per_second,
            "subjects": self.subjects,
            "written_at": time.time(),
        }
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()
    counter = Counter()
    loop = asyncio.get_running_loop()
    # The server runs on this very event loop (no Controller thread), so the counters and the
    # stats file are never touched by two threads at once.
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="sink.localhost", data_size_limit=10 * 1024 * 1024),
        host="127.0.0.1", port=args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    counter.dump(args.stats)
    print(f"smtp sink listening on 127.0.0.1:{args.port}", flush=True)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
        counter.dump(args.stats)
    server.close()
    counter.dump(args.stats)


if __name__ == "__main__":
    asyncio.run(main())
