"""Fills a fresh Convene with events for benches/feeds.sh, signs one attendee up to a few of
them, and finds that attendee's personal feed the way a person would: the manage link in the
confirmation mail (an .eml file in DATA_DIR/mail), then GET /api/v1/registrations/{token},
which answers with feed_url.

    python3 benches/feeds_setup.py BASE_URL API_TOKEN DATA_DIR [EVENTS] [PERSONAL]

Prints one JSON line: {"events": N, "personal_feed": "/feeds/....ics", "attendee_events": [...]}.
Only standard library; talks to BASE_URL only.
"""

import email
import email.policy
import glob
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
KINDS = ["sprint", "hack-in", "summit", "meetup", "other"]
ATTENDEE = "feed-attendee@example.org"

LONG = (
    "## What we will do\n\n"
    "Bring a laptop; we pair newcomers with maintainers. Topics: packaging, docs, triage, "
    "the test suite; commas, semicolons; and backslashes \\ all need escaping in iCalendar.\n\n"
    "- Morning: setup, picking issues\n- Afternoon: hacking, reviews\n"
    "- Evening: lightning talks, Grüße aus Köln, 東京で会いましょう, emoji 🎉\n\n"
)


def event_body(i):
    zone = ZONES[i % len(ZONES)]
    kind = KINDS[i % len(KINDS)]
    # Spread over 2027: one event every ~17 hours, so the feed spans both DST changes.
    start_hour = 9 + (i % 4) * 2
    day = 1 + (i * 17 // 24)
    month = 1 + (day - 1) // 28 % 12
    dom = 1 + (day - 1) % 28
    body = {
        "slug": f"feed-{i:04d}",
        "kind": kind,
        "title": f"{kind.title()} #{i}: Python, Rust & friends",
        "summary": f"Event {i} of the feed benchmark",
        "timezone": zone,
        "venue": f"Hall {i % 7}",
        "address": f"Street {i}, {zone.split('/')[-1].replace('_', ' ')}",
    }
    if i % 10 == 0:
        # Long descriptions: about 3 to 12 KB.
        body["description"] = LONG * (10 + i % 30)
    else:
        body["description"] = f"Short description of event {i}; see the website."
    if i % 6 == 5:
        body["all_day"] = True
        body["starts_at"] = f"2027-{month:02d}-{dom:02d}"
        last = min(dom + i % 3, 28)
        body["ends_at"] = f"2027-{month:02d}-{last:02d}"
    else:
        body["starts_at"] = f"2027-{month:02d}-{dom:02d}T{start_hour:02d}:00"
        body["ends_at"] = f"2027-{month:02d}-{dom:02d}T{start_hour + 6:02d}:30"
    if i % 9 == 4:
        body["online_url"] = f"https://meet.example.org/room-{i}"
    return body


def request(conn, method, path, body=None, headers=None):
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def main():
    base, token, data_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    personal = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(count):
        status, raw = request(conn, "POST", "/api/v1/events", event_body(i), auth)
        if status not in (200, 201):
            sys.exit(f"creating event {i} answered {status}: {raw[:500]!r}")

    # One attendee, signed up to `personal` events spread over the year.
    chosen = [f"feed-{(k * count) // personal + 3:04d}" for k in range(personal)]
    for slug in chosen:
        status, raw = request(
            conn, "POST", f"/api/v1/events/{slug}/registrations",
            {"name": "Feed Attendee", "email": ATTENDEE, "projects": []})
        if status != 202:
            sys.exit(f"signing up for {slug} answered {status}: {raw[:500]!r}")

    # The confirmation mails, written by the server's worker as .eml files.
    token_re = re.compile(r"/manage/([A-Za-z0-9_-]+)")
    manage = None
    deadline = time.time() + 30
    while manage is None and time.time() < deadline:
        for path in glob.glob(os.path.join(data_dir, "mail", "*.eml")):
            with open(path, "rb") as f:
                message = email.message_from_binary_file(f, policy=email.policy.default)
            if ATTENDEE not in str(message.get("To", "")):
                continue
            part = message.get_body(preferencelist=("plain",))
            found = token_re.search(part.get_content() if part else "")
            if found:
                manage = found.group(1)
                break
        if manage is None:
            time.sleep(0.2)
    if manage is None:
        sys.exit("no confirmation mail with a /manage/ link within 30 s")
    status, raw = request(conn, "GET", f"/api/v1/registrations/{manage}")
    if status != 200:
        sys.exit(f"GET /api/v1/registrations/TOKEN answered {status}: {raw[:500]!r}")
    feed_url = json.loads(raw)["feed_url"]
    if not feed_url:
        sys.exit("the registration has no feed_url")
    print(json.dumps({
        "events": count,
        "personal_feed": urllib.parse.urlsplit(feed_url).path,
        "attendee_events": chosen,
    }))


if __name__ == "__main__":
    main()
