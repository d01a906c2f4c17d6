"""One beat sends, however many are started (jiaxing_qs/beat.py): two real beats on the same schedule send each
run of it once, and when the sending one dies the other takes over."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from .services import require_postgres, require_redis, shared_database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.services, pytest.mark.real_clock, pytest.mark.django_db(transaction=True)]
LOCK_SECONDS = 3


def start_beat(env: dict, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "jiaxing_qs", "beat", "--loglevel=INFO", f"--pidfile={log_path}.pid"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def sent(client: redis.Redis, queue: str, name: str) -> int:
    """The messages of the periodic task ``name`` waiting in ``queue`` (no worker takes them)."""
    count = 0
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        if message["headers"].get("periodic_task_name") == name:
            count += 1
            json.loads(base64.b64decode(message["body"]))  # a real task message
    return count


def leader(logs: list[Path]) -> int:
    holding = [index for index, log in enumerate(logs) if "now the one beat sending" in log.read_text()]
    assert len(holding) == 1, [log.read_text() for log in logs]
    return holding[0]


def test_two_beats_send_each_run_of_a_schedule_once_and_the_other_takes_over(tmp_path):
    require_postgres()
    broker = require_redis()
    client = redis.Redis.from_url(broker)
    queue, name = f"jqs-beat-{uuid.uuid4().hex[:8]}", f"every second {uuid.uuid4().hex[:6]}"
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=name, task="jiaxing_qs.tasks.nightly_pipeline", interval=every_second, queue=queue)
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "BEAT_LOCK_SECONDS": str(LOCK_SECONDS),
    }
    logs = [tmp_path / "beat-a.log", tmp_path / "beat-b.log"]
    beats = [start_beat(env, log) for log in logs]
    try:
        deadline = time.monotonic() + 90  # starting takes seconds on a busy machine
        while not any("now the one beat sending" in log.read_text() for log in logs) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(beat.poll() is None for beat in beats), [log.read_text() for log in logs]
        time.sleep(2)  # the other beat is up too, in stand-by
        started = sent(client, queue, name)
        time.sleep(10)
        first_window = sent(client, queue, name) - started
        # One beat: about one message a second (two beats would send about two).
        assert 7 <= first_window <= 11, (first_window, [log.read_text()[-3000:] for log in logs])
        sending = leader(logs)
        beats[sending].send_signal(signal.SIGKILL)  # dies without releasing the lock: the lock must expire
        before = sent(client, queue, name)
        time.sleep(12)
        second_window = sent(client, queue, name) - before
        # The other took over within the lock's lifetime, and kept to one message a second.
        assert 12 - LOCK_SECONDS - 3 <= second_window <= 13, second_window
        assert "now the one beat sending" in logs[1 - sending].read_text()
    finally:
        for beat in beats:
            beat.kill()
            beat.wait(timeout=30)
        client.delete(queue)
