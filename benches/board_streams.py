"""Opens many Server-Sent Event streams of one board, then measures how long one update takes
to reach every one of them. Used by benches/board.sh.

    python3 board_streams.py BASE SLUG PROJECT TOKEN STREAMS

Prints `opened=N open_seconds=S` once every stream has its first state, then (after the caller
has read the server's memory: it waits for a line on stdin) sends one update and prints
`received=N within_1s=N p50_ms=.. p99_ms=.. max_ms=..`.
"""

import asyncio
import json
import sys
import time
import urllib.parse
import urllib.request


async def open_stream(host, port, path, ready):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    buffer = b""
    while b"event: board" not in buffer:
        chunk = await reader.read(65536)
        if not chunk:
            raise RuntimeError("stream closed before its first state")
        buffer += chunk
    ready.append(1)
    return reader, writer


async def wait_for(reader, marker):
    buffer = b""
    while marker not in buffer:
        chunk = await reader.read(65536)
        if not chunk:
            return None
        buffer = buffer[-len(marker):] + chunk
    return time.monotonic()


def put(base, slug, project, token, line):
    request = urllib.request.Request(
        f"{base}/api/v1/events/{slug}/projects/{project}/board",
        data=json.dumps({"now": line, "next": ""}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, response.status


async def main():
    base, slug, project, token, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    url = urllib.parse.urlparse(base)
    path = f"/events/{slug}/board/stream"
    ready = []
    started = time.monotonic()
    streams = []
    # Open in batches so the accept queue is not flooded.
    for first in range(0, count, 200):
        batch = [open_stream(url.hostname, url.port, path, ready) for _ in range(first, min(count, first + 200))]
        streams += await asyncio.gather(*batch)
    print(f"opened={len(streams)} open_seconds={time.monotonic() - started:.2f}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    marker = f"update-{time.time_ns()}"
    waiters = [asyncio.create_task(wait_for(reader, marker.encode())) for reader, _ in streams]
    await asyncio.sleep(0.2)
    sent = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, put, base, slug, project, token, marker)
    arrivals = await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)
    latencies = sorted((a - sent) * 1000 for a in arrivals if a is not None)
    n = len(latencies)
    within = sum(1 for ms in latencies if ms <= 1000)
    pick = lambda q: latencies[min(n - 1, int(q * n))] if n else float("nan")
    print(f"received={n} within_1s={within} p50_ms={pick(0.5):.1f} p99_ms={pick(0.99):.1f} max_ms={latencies[-1] if n else float('nan'):.1f}", flush=True)
    for _, writer in streams:
        writer.close()


asyncio.run(main())
