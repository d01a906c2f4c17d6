"""Load benchmark of the map endpoint under gunicorn, against the same bytes served as a static file.

    python -m bench.map_load [--rate 200] [--seconds 20] [--level county] [--workers 4]

Uses the configured database (run `python3 dev.py demo --no-serve` first for the demo data). It starts
gunicorn on 127.0.0.1, logs a session in for the demo supervisor, writes the map response's bytes as a
static file served by the same gunicorn (WhiteNoise), then drives each URL with an open-loop generator —
requests leave at a fixed rate whatever the server does, so queueing shows in the latencies — over
keep-alive connections, and reports p50/p95/p99, the achieved rate and errors.
"""

import argparse
import asyncio
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cookie(username: str) -> str:
    """A logged-in session for ``username``, made directly in the session store."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def write_static_copy(path: str, cookie: str, port: int) -> str:
    """Fetch the endpoint once and store its bytes under STATIC_ROOT, so WhiteNoise serves the same bytes."""
    import urllib.request

    from django.conf import settings

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})
    body = urllib.request.urlopen(request, timeout=30).read()
    target = Path(settings.STATIC_ROOT) / "bench" / "map.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    # The API answers gzip; WhiteNoise serves a .gz sibling to clients that accept it: same bytes on the wire.
    Path(f"{target}.gz").write_bytes(gzip.compress(body, compresslevel=6))
    return len(body)


def request_bytes(path: str, headers: dict) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


async def one_connection(port, requests, queue, latencies, errors):
    """Sends, for each due time taken from the queue, the next of ``requests`` (one per session, in turn)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        item = await queue.get()
        if item is None:
            break
        scheduled, n = item
        try:
            writer.write(requests[n % len(requests)])
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            if status != 200:
                errors.append(status)
            latencies.append(time.perf_counter() - scheduled)
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as error:
            errors.append(repr(error))
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


async def drive(port, requests, rate, seconds, connections=32):
    """Open loop: a request is due every 1/rate s; latency counts from when it was due, not when sent."""
    queue: asyncio.Queue = asyncio.Queue()
    latencies, errors = [], []
    workers = [asyncio.create_task(one_connection(port, requests, queue, latencies, errors)) for _ in range(connections)]
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, n))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


def summarise(name, latencies, errors, elapsed):
    ordered = sorted(latencies)

    def pct(p):
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")

    return {
        "name": name,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": statistics.fmean(ordered) * 1000 if ordered else float("nan"),
        "errors": len(errors),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--level", default="county", choices=["county", "town"])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--user", default="supervisor")
    parser.add_argument(
        "--sessions",
        type=int,
        default=1,
        help="distinct logged-in sessions taking turns (1: one map page or wall display polling; "
        "many: many users, each request of a session far apart)",
    )
    args = parser.parse_args()

    # Production-like settings, shared with gunicorn (the session made here must be valid there). Plain HTTP
    # on loopback, as gunicorn sees it behind the TLS-terminating proxy of a real deployment.
    os.environ.update(DEBUG="false", HTTPS="false", SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-secret-key-not-for-production")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiaxing_qs.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection

    load_before = os.getloadavg()[0]
    port = free_port()
    env = dict(os.environ)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "jiaxing_qs.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            "8",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        cookies = [session_cookie(args.user) for _ in range(args.sessions)]
        api_path = f"/api/regions/map/?level={args.level}"
        size = write_static_copy(api_path, cookies[0], port)
        # WhiteNoise indexes STATIC_ROOT when a worker starts: restart the workers to pick the copy up.
        server.send_signal(signal.SIGHUP)
        time.sleep(2)
        rows = []
        for name, path in (("map API", api_path), ("static file", "/static/bench/map.json")):
            requests = [request_bytes(path, {"Cookie": cookie, "Accept-Encoding": "gzip"}) for cookie in cookies]
            asyncio.run(drive(port, requests, rate=min(args.rate, 50), seconds=2))  # warm-up
            rows.append(summarise(name, *asyncio.run(drive(port, requests, rate=args.rate, seconds=args.seconds))))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"\n{args.level} map, {size} bytes uncompressed, target rate {args.rate:.0f} req/s for {args.seconds:.0f} s, "
        f"gunicorn {args.workers} workers, {os.cpu_count()} cores, {args.sessions} session(s), "
        f"{connection.vendor}, MAP_MICROCACHE_SECONDS={settings.MAP_MICROCACHE_SECONDS}, load before {load_before:.2f}"
    )
    print(f"{'':12} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in rows:
        print(f"{row['name']:12} {row['rps']:7.1f} {row['p50']:8.2f} {row['p95']:8.2f} {row['p99']:8.2f} {row['errors']:7d}")
    api, static = rows
    print(f"\np99 ratio map API / static file: {api['p99'] / static['p99']:.2f} (target ≤ 1.5; target p99 < 50 ms)")


if __name__ == "__main__":
    main()
