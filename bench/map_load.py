"""Load benchmark of the map endpoint under gunicorn, against the same bytes served as a static file.

    python -m bench.map_load [--rate 200] [--seconds 20] [--level county] [--workers 4] [--sessions 200]
                             [--runs 3] [--ticket-seconds 300] [--microcache-seconds 5]

Uses the configured database (run `python3 dev.py demo --no-serve` first for the demo data). It starts
gunicorn on 127.0.0.1, logs sessions in for the demo supervisor, has each open the map page as a browser does
(which hands out its map ticket, regions/map_cache.py), writes the map response's bytes as a static file served
by the same gunicorn (WhiteNoise), then drives each URL with an open-loop generator — requests leave at a fixed
rate whatever the server does, so queueing shows in the latencies — over keep-alive connections, and reports
p50/p95/p99, the achieved rate, errors and how many map answers came from the fast path. Like a browser, a
session takes the renewed ticket a response sets.
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
from dataclasses import dataclass
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


def ticket_cookie(cookie: str, port: int) -> str:
    """The session's cookies once it opened the map page: the session and, if one was issued, its map ticket."""
    import urllib.request

    from regions.map_cache import TICKET_COOKIE

    request = urllib.request.Request(f"http://127.0.0.1:{port}/map/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=120) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith(f"{TICKET_COOKIE}="):
                return f"{cookie}; {header.split(';', 1)[0]}"
    return cookie


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


@dataclass
class Session:
    """One browser: its path, session cookie and map ticket (renewed when a response sets a new one)."""

    path: str
    session: str
    ticket: str = ""

    def request(self) -> bytes:
        cookie = f"{self.session}; {self.ticket}" if self.ticket else self.session
        return request_bytes(self.path, {"Cookie": cookie, "Accept-Encoding": "gzip"})

    def take_cookies(self, head: bytes) -> None:
        from regions.map_cache import TICKET_COOKIE

        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"set-cookie:") and f"{TICKET_COOKIE}=".encode() in line:
                self.ticket = line.split(b":", 1)[1].strip().split(b";", 1)[0].decode()


async def one_connection(port, sessions, queue, latencies, errors, hits):
    """Sends, for each due time taken from the queue, the next session's request (each session in turn)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        item = await queue.get()
        if item is None:
            break
        scheduled, n = item
        session = sessions[n % len(sessions)]
        try:
            writer.write(session.request())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            session.take_cookies(head)
            hits.append(b"\r\nx-map-cache: hit" in head.lower())
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


async def drive(port, sessions, rate, seconds, connections=32):
    """Open loop: a request is due every 1/rate s; latency counts from when it was due, not when sent."""
    queue: asyncio.Queue = asyncio.Queue()
    latencies, errors, hits = [], [], []
    workers = [asyncio.create_task(one_connection(port, sessions, queue, latencies, errors, hits)) for _ in range(connections)]
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
    return latencies, errors, elapsed, hits


def summarise(name, latencies, errors, elapsed, hits):
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
        "fast": sum(hits) / len(hits) if hits else 0.0,
    }


def cpu_per_request(path_api: str, cookie: str, repeat: int) -> dict[str, float]:
    """CPU time (process_time, µs) per request of each path through the WSGI application in this process: the
    fast path (a ticket, the entry cached), the full path (no ticket), the static file. CPU time, unlike latency,
    hardly depends on what else the machine runs."""
    import io

    from jiaxing_qs.wsgi import application
    from regions.map_cache import TICKET_COOKIE

    def call(path: str, cookies: str) -> list:
        route, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": cookies,
            "HTTP_ACCEPT_ENCODING": "gzip",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
        }
        seen = []
        b"".join(application(environ, lambda status, headers, exc=None: seen.extend([status, headers])))
        return seen

    status, headers = call("/map/", cookie)
    ticket = next(value.strip().split(";", 1)[0] for name, value in headers if name == "Set-Cookie" and TICKET_COOKIE in value)
    cases = {
        "fast path": (path_api, f"{cookie}; {ticket}"),
        "full path": (path_api, cookie),
        "static file": ("/static/bench/map.json", cookie),
    }
    figures = {}
    for name, (path, cookies) in cases.items():
        call(path, cookies)  # the fast path's first request fills its entry
        status, headers = call(path, cookies)
        assert status.startswith("200"), (name, status)
        assert (dict(headers).get("X-Map-Cache") == "hit") == (name == "fast path"), name
        times = max(20, repeat // 10) if name == "full path" else repeat
        start = time.process_time()
        for _ in range(times):
            call(path, cookies)
        figures[name] = (time.process_time() - start) / times * 1e6
    return figures


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
    parser.add_argument("--runs", type=int, default=1, help="measurements of both URLs, one after the other, each reported")
    parser.add_argument("--ticket-seconds", type=int, help="MAP_TICKET_SECONDS for the server (0: no tickets, every request the full path)")
    parser.add_argument("--microcache-seconds", type=int, help="MAP_MICROCACHE_SECONDS for the server")
    parser.add_argument("--cpu", type=int, default=0, help="also measure N requests of each path in this process (CPU µs each)")
    args = parser.parse_args()
    if args.ticket_seconds is not None:
        os.environ["MAP_TICKET_SECONDS"] = str(args.ticket_seconds)
    if args.microcache_seconds is not None:
        os.environ["MAP_MICROCACHE_SECONDS"] = str(args.microcache_seconds)

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
        browsers = []
        for cookie in cookies:  # each session opens the map page first, as a browser does: it hands out the ticket
            with_ticket = ticket_cookie(cookie, port)
            browsers.append(Session(api_path, cookie, with_ticket[len(cookie) + 2 :] if with_ticket != cookie else ""))
        statics = [Session("/static/bench/map.json", cookie) for cookie in cookies]
        runs = []
        for _ in range(args.runs):
            rows = []
            for name, sessions in (("map API", browsers), ("static file", statics)):
                asyncio.run(drive(port, sessions, rate=min(args.rate, 50), seconds=2))  # warm-up
                rows.append(summarise(name, *asyncio.run(drive(port, sessions, rate=args.rate, seconds=args.seconds))))
            rows.append(os.getloadavg()[0])
            runs.append(rows)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"\n{args.level} map, {size} bytes uncompressed, target rate {args.rate:.0f} req/s for {args.seconds:.0f} s, "
        f"gunicorn {args.workers} workers, {os.cpu_count()} cores, {args.sessions} session(s), {connection.vendor}, "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, MAP_MICROCACHE_SECONDS={settings.MAP_MICROCACHE_SECONDS}, "
        f"MAP_TICKET_SECONDS={settings.MAP_TICKET_SECONDS}, load before {load_before:.2f}"
    )
    print(f"{'run':>3} {'':12} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'fast':>6}  p99 ratio  load after")
    for number, (api, static, load_after) in enumerate(runs, 1):
        for row in (api, static):
            print(
                f"{number:3d} {row['name']:12} {row['rps']:7.1f} {row['p50']:8.2f} {row['p95']:8.2f} {row['p99']:8.2f} "
                f"{row['errors']:7d} {row['fast']:6.1%}",
                end="",
            )
            print(f"  {api['p99'] / static['p99']:9.2f}  {load_after:10.2f}" if row is static else "")
    print("\ntargets: map p99 < 50 ms and within 2x of the static file's p99; 'fast': share of map answers from the fast path")
    if args.cpu:
        figures = cpu_per_request(api_path, cookies[0], args.cpu)
        print("CPU per request in-process: " + ", ".join(f"{name} {us:.0f} µs" for name, us in figures.items()), end="")
        print(f"; fast / static {figures['fast path'] / figures['static file']:.2f}, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
