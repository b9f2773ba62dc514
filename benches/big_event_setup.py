"""The big event of benches/big_event.sh, built through the API as organizers and attendees would.

    python3 benches/big_event_setup.py BASE_URL TOKEN SLUG PROJECTS PEOPLE [CONNECTIONS]
    python3 benches/big_event_setup.py --login BASE_URL EMAIL PASSWORD

The first form creates PROJECTS projects (p000, p001, ...) on event SLUG and signs up PEOPLE
people, person i joining project i % PROJECTS and every third person also the next one; each
signup must answer 202. Prints one JSON line {"projects": N, "signed_up": N, "seconds": F}.

The second form signs in on /login as an organizer would (form token and cookie) and prints the
Cookie header value of the session, for curl.

Only the standard library; talks to BASE_URL only.
"""

import http.client
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reminders_setup  # noqa: E402  (its sign_up_many)


def request(conn, method, path, body, headers):
    conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
    resp = conn.getresponse()
    return resp.status, resp.read()


def build(base, token, slug, projects, people, connections):
    url = urllib.parse.urlsplit(base)
    auth = {"Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    started = time.time()
    for p in range(projects):
        body = {"slug": f"p{p:03}", "name": f"Project {p:03}", "location": f"Table {p % 40 + 1}",
                "leads": [{"name": f"Lead {p:03}", "email": f"lead-{p:03}@example.org"}]}
        status, raw = request(conn, "POST", f"/api/v1/events/{slug}/projects", body, auth)
        if status not in (200, 201):
            sys.exit(f"creating project {p} answered {status}: {raw[:300]!r}")

    def body_of(i):
        joined = [f"p{i % projects:03}"]
        if i % 3 == 0 and projects > 1:
            joined.append(f"p{(i + 1) % projects:03}")
        return {"name": f"Person {i:05}", "email": f"person-{i:05}@example.org", "projects": joined}

    reminders_setup.sign_up_many(base, slug, people, connections, body_of)
    print(json.dumps({"projects": projects, "signed_up": people, "seconds": round(time.time() - started, 1)}))


def login(base, email, password):
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    html = opener.open(f"{base}/login").read().decode()
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    if not match:
        sys.exit("no form token on /login")
    form = urllib.parse.urlencode({"csrf": match.group(1), "email": email, "password": password}).encode()
    try:
        opener.open(f"{base}/login", data=form)
    except urllib.error.HTTPError as e:
        if e.code != 303:
            sys.exit(f"signing in answered {e.code}")
        jar.extract_cookies(e, urllib.request.Request(f"{base}/login"))
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "convene_session=" not in cookies:
        sys.exit("signing in gave no session cookie")
    print(cookies)


def main():
    if sys.argv[1] == "--login":
        login(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    base, token, slug = sys.argv[1], sys.argv[2], sys.argv[3]
    projects, people = int(sys.argv[4]), int(sys.argv[5])
    connections = int(sys.argv[6]) if len(sys.argv) > 6 else 16
    build(base, token, slug, projects, people, connections)


if __name__ == "__main__":
    main()
