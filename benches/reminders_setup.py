"""Signs up many people for one event, as fast as a few keep-alive connections allow; used by
benches/reminders.sh.

    python3 benches/reminders_setup.py BASE_URL SLUG COUNT [CONNECTIONS]

Every signup must answer 202; prints one JSON line {"signed_up": N, "seconds": F}.
Only standard library; talks to BASE_URL only.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse


def sign_up_many(base, slug, count, connections, body_of):
    """Signs up `count` people over `connections` keep-alive connections, person i with the
    JSON body `body_of(i)`; exits with the first answer that is not 202."""
    url = urllib.parse.urlsplit(base)
    path = f"/api/v1/events/{slug}/registrations"
    lock = threading.Lock()
    next_index = [0]
    errors = []

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count or errors:
                return
            conn.request("POST", path, body=json.dumps(body_of(i)), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status != 202:
                errors.append(f"signup {i} answered {resp.status}: {raw[:300]!r}")
                return

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(errors[0])


def main():
    base, slug, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    connections = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    start = time.time()
    sign_up_many(base, slug, count, connections,
                 lambda i: {"name": f"Person {i}", "email": f"person-{i}@example.org", "projects": []})
    print(json.dumps({"signed_up": count, "seconds": round(time.time() - start, 2)}))


if __name__ == "__main__":
    main()
