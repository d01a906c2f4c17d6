"""One Celery beat at a time, however many are started: the database scheduler behind a lock in Redis.

Production runs beat on one machine, but a second one started by mistake (or a stand-by kept on another host)
would send every schedule twice: two nightly pipelines, two reminders to each officer. Each beat started with
``-S jiaxing_qs.beat:SingleBeatScheduler`` (the default, settings.CELERY_BEAT_SCHEDULER) sends only while it
holds the lock, a Redis key with its own token that it renews on every tick and that expires after
BEAT_LOCK_SECONDS if it stops renewing (crashed, hung or cut off). The others stay in stand-by and the first to
find the key gone takes over, re-reading the schedule (and so the last run times the leader wrote after each
send, beat_sync_every = 1) before sending anything: a schedule fires once, not once per beat.

The lock lives in the broker's Redis (or BEAT_LOCK_URL). Without Redis (no broker: tasks run in-process and
no beat is needed) there is nothing to share and the scheduler behaves as django-celery-beat's own.
"""

import contextlib
import logging
import os
import socket
import uuid

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

LOCK_KEY = "jqs:beat:leader"
# Renew only our own lock: compare the token and extend in one step.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def lock_url() -> str:
    url = settings.BEAT_LOCK_URL or settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else ""


class SingleBeatScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.lock_seconds = settings.BEAT_LOCK_SECONDS
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        url = lock_url()
        if url:
            import redis

            self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        else:
            self.redis = None
            logger.warning("beat: no Redis to hold the beat lock (%s): run exactly one beat", settings.CELERY_BROKER_URL)
        super().__init__(*args, **kwargs)

    def _hold_lock(self) -> bool:
        """Take the lock if free, renew it if ours; False (stand-by) otherwise or when Redis cannot be reached."""
        if self.redis is None:
            return True
        ttl = int(self.lock_seconds * 1000)
        try:
            held = bool(self.redis.eval(_RENEW, 1, LOCK_KEY, self.token, ttl)) or bool(
                self.redis.set(LOCK_KEY, self.token, nx=True, px=ttl)
            )
        except Exception as error:
            logger.error("beat: cannot reach the lock's Redis (%r): not sending", error)
            held = False
        if held and not self.leading:
            logger.warning("beat %s: now the one beat sending schedules", self.token)
            self._reload_schedule()
        elif self.leading and not held:
            logger.warning("beat %s: lost the lock, in stand-by", self.token)
        self.leading = held
        return held

    def _reload_schedule(self) -> None:
        # The previous leader may have sent entries since this beat last read them: read them again, with their
        # last run times, and let the next tick build its heap from them. (Not by marking the schedule changed:
        # django-celery-beat then rebuilds the heap once more after the next send, from entries that do not
        # know it yet, and sends it twice.)
        self.sync()
        self._schedule = self.all_as_schedule()
        self._heap = None

    def tick(self, *args, **kwargs):
        if not self._hold_lock():
            return min(self.max_interval, self.lock_seconds / 3)
        return min(super().tick(*args, **kwargs), self.lock_seconds / 3)

    def close(self):
        try:
            super().close()
        finally:
            if self.redis is not None and self.leading:
                with contextlib.suppress(Exception):  # shutting down: the lock expires anyway
                    self.redis.eval(_RELEASE, 1, LOCK_KEY, self.token)
