"""The pipeline spread over worker hosts: three test hosts made as network namespaces on this machine, each with a
Celery worker reaching PostgreSQL and Redis (instances of this test's own, bound to the hosts' veth addresses)
over its own link. The county parts are shared out over more than one host; one host's link is cut while it
runs a part, and the run still completes — the part given to another host once Redis's visibility timeout
passes — with the same final state as a run in one process on a copy of the same data.
"""

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from .services import _unavailable

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.services]
AS_OF = "2026-06-30"
ENTERPRISES = 12000
HOSTS = 3
VISIBILITY_TIMEOUT = 10
RUNNING_PART = "SELECT id FROM jiaxing_qs_pipelinestep WHERE state = 'running' AND county_id IS NOT NULL AND host = %s"


def sh(*command: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_netns() -> None:
    if os.environ.get("REQUIRE_SERVICES") != "1":
        # Minutes long and starting servers of its own: run with the services tests (CI's step 2), not in a
        # developer's `dev.py test` or under the clock-ahead run (libfaketime would reach its servers too).
        pytest.skip("the multi-host test runs with REQUIRE_SERVICES=1 (.ci/run's services step)")
    if os.geteuid() != 0 or not shutil.which("ip"):
        _unavailable("needs root and iproute2 to make test hosts (ip netns)")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _unavailable("needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
    if not shutil.which("redis-server"):
        _unavailable("needs redis-server")


class Hosts:
    """``count`` namespaces jqsN-h1…, each linked to this machine by a veth pair: host i is 10.S.i.2 and sees
    this machine as 10.S.i.1."""

    def __init__(self, count: int):
        self.subnet = random.randint(150, 250)
        self.tag = f"{os.getpid() % 10000}"
        self.names = [f"jqs{self.tag}h{i}" for i in range(1, count + 1)]
        self.links = [f"vq{self.tag}h{i}" for i in range(1, count + 1)]  # this machine's end, ≤ 15 characters

    def gateway(self, index: int) -> str:
        return f"10.{self.subnet}.{index + 1}.1"

    def up(self) -> None:
        for index, (name, link) in enumerate(zip(self.names, self.links, strict=True)):
            peer = f"{link}p"
            sh("ip", "netns", "add", name)
            sh("ip", "link", "add", link, "type", "veth", "peer", "name", peer)
            sh("ip", "link", "set", peer, "netns", name)
            sh("ip", "addr", "add", f"{self.gateway(index)}/24", "dev", link)
            sh("ip", "link", "set", link, "up")
            inside = ("ip", "netns", "exec", name)
            sh(*inside, "ip", "addr", "add", f"10.{self.subnet}.{index + 1}.2/24", "dev", peer)
            sh(*inside, "ip", "link", "set", peer, "up")
            sh(*inside, "ip", "link", "set", "lo", "up")

    def cut(self, index: int) -> None:
        sh("ip", "link", "set", self.links[index], "down")

    def down(self) -> None:
        for name, link in zip(self.names, self.links, strict=True):
            sh("ip", "link", "del", link, check=False)
            sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def hosts():
    require_netns()
    made = Hosts(HOSTS)
    try:
        made.up()
        yield made
    finally:
        made.down()


@pytest.fixture
def services(hosts, tmp_path):
    """This test's own PostgreSQL and Redis, listening on this machine's end of every host's link (and loopback).
    PostgreSQL notices a client cut off within seconds (keepalives, TCP user timeout), so a part's transaction on
    the cut host is rolled back and its rows free for the part's second delivery."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    # Not under tmp_path: pytest's folders are private to root, and PostgreSQL runs as its own user.
    data = Path(tempfile.mkdtemp(prefix="jqs-hosts-pg-"))
    shutil.chown(data, "postgres")
    sh("runuser", "-u", "postgres", "--", str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all 10.{hosts.subnet}.0.0/16 trust\n")
    pg_port, redis_port = free_port(), free_port()
    addresses = ",".join(["127.0.0.1", *(hosts.gateway(index) for index in range(HOSTS))])
    options = (
        f"-c listen_addresses='{addresses}' -p {pg_port} -k {data} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2 "
        "-c tcp_user_timeout=3000 -c client_connection_check_interval=1000 -c max_connections=100"
    )
    pg_ctl = ("runuser", "-u", "postgres", "--", str(binaries / "pg_ctl"), "-D", str(data))
    sh(*pg_ctl, "-o", options, "-l", str(data / "server.log"), "-w", "start")
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            *addresses.split(","),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ],
        stdout=(tmp_path / "redis.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(50):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", redis_port), timeout=1):
                break
            time.sleep(0.1)
        yield {"pg_port": pg_port, "redis_port": redis_port}
    finally:
        redis.terminate()
        redis.wait(timeout=30)
        sh(*pg_ctl, "-m", "immediate", "stop", check=False)
        shutil.rmtree(data, ignore_errors=True)


def database_url(address: str, port: int, name: str) -> str:
    return f"postgres://postgres@{address}:{port}/{name}"


def start_worker(hosts: Hosts, index: int, services: dict, log: Path) -> subprocess.Popen:
    address = hosts.gateway(index)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(address, services["pg_port"], "jqs"),
        "CELERY_BROKER_URL": f"redis://{address}:{services['redis_port']}/0",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PYTHONUNBUFFERED": "1",
    }
    command = ["ip", "netns", "exec", hosts.names[index], sys.executable, "-m", "celery", "-A", "jiaxing_qs", "worker"]
    command += ["--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"worker@host{index + 1}"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def query(port: int, name: str, sql: str, params=()) -> list[tuple]:
    connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=name)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def driver(env: dict, *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.hosts_driver", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_the_pipeline_spreads_over_worker_hosts_and_survives_losing_one(hosts, services, tmp_path):
    pg, redis = services["pg_port"], services["redis_port"]
    here = {**os.environ, "CELERY_BROKER_URL": "", "PYTHONUNBUFFERED": "1"}
    query(pg, "postgres", "CREATE DATABASE jqs")
    local = {**here, "DATABASE_URL": database_url("127.0.0.1", pg, "jqs")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=local, check=True, timeout=600)
    driver(local, "seed", str(ENTERPRISES), AS_OF)
    query(pg, "postgres", "CREATE DATABASE jqs_single TEMPLATE jqs")

    # The same data in one process, as the reference.
    single = {**here, "DATABASE_URL": database_url("127.0.0.1", pg, "jqs_single")}
    subprocess.run([sys.executable, "manage.py", "run_pipeline", "--as-of", AS_OF], cwd=ROOT, env=single, check=True, timeout=900)
    reference = json.loads(driver(single, "state"))

    logs = [tmp_path / f"worker{index + 1}.log" for index in range(HOSTS)]
    workers = [start_worker(hosts, index, services, logs[index]) for index in range(HOSTS)]
    run = None
    try:
        deadline = time.monotonic() + 120
        while not all("ready." in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
            assert all(worker.poll() is None for worker in workers), [log.read_text()[-2000:] for log in logs]
            time.sleep(0.5)
        broker = {**local, "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis}/0", "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
        run = subprocess.Popen(
            [sys.executable, "manage.py", "run_pipeline", "--as-of", AS_OF, "--timeout", "600"],
            cwd=ROOT,
            env=broker,
            stdout=(tmp_path / "run.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        # Cut host 2 off while it runs a county part.
        cut_step, deadline = None, time.monotonic() + 300
        while cut_step is None:
            assert time.monotonic() < deadline and run.poll() is None, (tmp_path / "run.log").read_text()
            running = query(
                pg,
                "jqs",
                "SELECT id FROM jiaxing_qs_pipelinestep WHERE state = 'running' AND county_id IS NOT NULL AND host = %s",
                ["worker@host2"],
            )
            if running:
                hosts.cut(1)
                cut_step = running[0][0]
            time.sleep(0.02)
        assert run.wait(timeout=600) == 0, (tmp_path / "run.log").read_text() + "".join(log.read_text()[-3000:] for log in logs)
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
        if run is not None and run.poll() is None:
            run.kill()

    printed = (tmp_path / "run.log").read_text()
    with translation.override(settings.LANGUAGE_CODE):  # a command speaks the site language
        assert _("on the Celery workers") in printed
    part_hosts = query(pg, "jqs", "SELECT DISTINCT host FROM jiaxing_qs_pipelinestep WHERE county_id IS NOT NULL")
    assert len(part_hosts) >= 2, part_hosts  # the county parts were shared out
    state, host, attempts = query(pg, "jqs", "SELECT state, host, attempts FROM jiaxing_qs_pipelinestep WHERE id = %s", [cut_step])[0]
    # The part cut off with its host was run again elsewhere and finished there.
    assert (state, attempts) == ("done", 2) and host != "worker@host2", (state, host, attempts)
    assert query(pg, "jqs", "SELECT count(*) FROM jiaxing_qs_pipelinerun WHERE finished_at IS NOT NULL")[0][0] == 1
    assert json.loads(driver(local, "state")) == reference
