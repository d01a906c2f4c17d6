"""Micro-cache of map responses: a wall display or a busy map page asks for the same map many times a second.

The map endpoint's full path costs a session lookup, the user, the staff profile, the period's version and
the encoded body: a few milliseconds of a worker's time. ``MapMicroCacheMiddleware`` sits right after
WhiteNoise and answers a repeated request from this process's memory, keyed by the session that made it,
the full URL, the encoding and the language asked for. Only responses the view marked ``microcacheable`` (an authorised
200 that sets no cookie) are kept, so the first request of every session — and every request after an
entry expires — goes through sessions, authentication and the jurisdiction rules as usual.

A logout shows at once, in whichever process it happened: every logout writes a new token to the cache all
processes share (``caches["shared"]``: Redis with CACHE_URL, else files in VAR_DIR, which every worker of the
one machine sees), and a hit is answered only while the token is the one read before its response was made
— a small file read (16 µs measured) or one Redis GET. What a hit can miss otherwise is bounded by
``MAP_MICROCACHE_SECONDS`` (default 5 s; 0 turns the cache off): a role or jurisdiction change, a password
change or a new colouring made in *another* process shows within that time. In this process they show at
once: the signals below empty the cache.
"""

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import user_logged_out
from django.core.cache import caches
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import reverse

MAX_ENTRIES = 4096
LOGOUT_TOKEN_KEY = "map-microcache:logout-token"
clock = time.monotonic  # module-level so tests can move time on
HIT_HEADER = "X-Map-Cache"  # "hit" on answers from the micro-cache: visible in a browser's network panel


@dataclass(frozen=True)
class CachedResponse:
    expires: float
    content: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str | None
    logout_token: str | None = None  # logout_token() before the response was made


class MapMicroCache:
    """A bounded, thread-safe LRU of map responses (gunicorn runs several threads per worker)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[tuple, CachedResponse] = OrderedDict()
        self._memo: dict[tuple, tuple[float, object]] = {}  # a few keys: one per period asked
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: tuple) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple, response: HttpResponse, seconds: float, logout_token: str | None = None) -> None:
        headers = tuple((name, value) for name, value in response.items() if name.lower() != "set-cookie")
        entry = CachedResponse(clock() + seconds, response.content, headers, response.get("ETag"), logout_token)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def remember(self, key: tuple, compute, seconds: float):
        """A value shared by every session (which period is latest, when it changed), computed at most once per
        ``seconds`` in this process; emptied with the responses. ``seconds`` ≤ 0: computed every time."""
        if seconds <= 0:
            return compute()
        memo_key = ("memo", *key)
        with self._lock:
            held = self._memo.get(memo_key)
            if held is not None and held[0] > clock():
                return held[1]
        value = compute()
        with self._lock:
            if len(self._memo) >= MAX_ENTRIES:  # periods asked for: a handful, unless someone walks the calendar
                self._memo.clear()
            self._memo[memo_key] = (clock() + seconds, value)
        return value

    def discard(self, key: tuple) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self, **_signal_kwargs) -> None:
        with self._lock:
            self._entries.clear()
            self._memo.clear()

    def __len__(self) -> int:
        return len(self._entries)


map_microcache = MapMicroCache()


def logout_token() -> str | None:
    """The token of the latest logout in any process (None before the first)."""
    return caches["shared"].get(LOGOUT_TOKEN_KEY)


def logout_recorded(**_signal_kwargs) -> None:
    """A user logged out here: a new token for every process, and this process's entries gone."""
    caches["shared"].set(LOGOUT_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
    map_microcache.clear()


class MapMicroCacheMiddleware:
    """Answers a repeated map request from ``map_microcache``; passes everything else through untouched."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = None  # resolved on first use: the URLconf is not loaded when middleware is built

    def __call__(self, request):
        seconds = settings.MAP_MICROCACHE_SECONDS
        if self.path is None:
            self.path = reverse("api-region-map")
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if seconds <= 0 or request.method != "GET" or request.path_info != self.path or not session_key:
            return self.get_response(request)
        gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "")
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)  # the response says its Content-Language
        key = (session_key, request.get_full_path(), gzip_ok, language)
        entry = map_microcache.get(key)
        token = logout_token()
        if entry is not None:
            if entry.logout_token == token:
                return self._answer(request, entry)
            map_microcache.discard(key)  # someone logged out since, perhaps this session: the full path decides
        response = self.get_response(request)
        if response.status_code == 200 and getattr(response, "microcacheable", False) and not response.cookies:
            map_microcache.put(key, response, seconds, token)
        return response

    @staticmethod
    def _answer(request, entry: CachedResponse) -> HttpResponse:
        if entry.etag and entry.etag in request.headers.get("If-None-Match", ""):
            response = HttpResponseNotModified()
            response["ETag"] = entry.etag
        else:
            response = HttpResponse(entry.content)
            for name, value in entry.headers:
                response[name] = value
        response[HIT_HEADER] = "hit"
        return response


def _connect_invalidation() -> None:
    """Empty this process's cache whenever what a map response depends on changes here."""
    from django.contrib.auth import get_user_model

    from .models import ColourThresholds, Region, RegionSnapshot, StaffProfile

    # A login saves the user (last_login): post_save below covers it. A logout saves nothing: it says so to all.
    user_logged_out.connect(logout_recorded, dispatch_uid="map_microcache_logout")
    for model in (get_user_model(), StaffProfile, Region, RegionSnapshot, ColourThresholds):
        for signal in (post_save, post_delete):
            signal.connect(map_microcache.clear, sender=model, dispatch_uid=f"map_microcache_{model.__name__}_{id(signal)}")
