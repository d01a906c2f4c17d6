"""The map data's fast path: a map request answered right after WhiteNoise, before sessions, users and DRF.

A wall of supervisors opening the map at 9 am asks for the same few responses (one per jurisdiction, level and
period), each session once in a while. The full path of one request — the session, the user with their staff
profile, DRF, the period's version, the encoded body — costs a few milliseconds of a worker's time; at
200 requests a second on 2 cores that is the whole machine. So the map data endpoint (``api-region-map``, that
URL only) is answered, when it can be, by ``MapFastPathMiddleware`` from two things:

1. **A map ticket**: a cookie (``TICKET_COOKIE``) signed with the SECRET_KEY (``django.core.signing``, HMAC-SHA256),
   carrying the user's id, the role and jurisdiction the map view scopes its data with (``regions.access.map_scope``:
   the same function, called when the ticket is issued on a full-path response of the map page or the map data),
   when it was authorised, when it expires (``MAP_TICKET_SECONDS``) and a hash of the session cookie it was issued
   with. HttpOnly, SameSite=Lax, Secure under HTTPS, and sent by browsers to the map data URL only (its Path).
   A ticket that is forged, tampered with, expired, of another session or revoked is ignored: the request takes
   the full path, which decides as always (and issues a new ticket to a user who may see the map).
2. **A shared per-process cache** (``map_microcache``) of the map view's finished responses, keyed by the role
   and jurisdiction they were made for (never by session: two hundred sessions of one county share one entry),
   the URL, the encoding and the language cookie; filled by full-path responses, kept ``MAP_MICROCACHE_SECONDS``.
   A ticket is answered only from the entry of its own role and jurisdiction, so it never gets another's data.

**Revocation.** Every user has a stamp in the cache all processes share (``caches["shared"]``: Redis with
CACHE_URL, else files in VAR_DIR that every worker of the machine reads): a ticket is valid only while the stamp
exists and is not later than the moment the ticket was authorised (the start of the request that issued it, so a
change made while that request ran voids it too). A logout, a save of the user (a password change, deactivation,
superuser flag; not the login's own ``last_login`` update) or of their staff profile (role, jurisdiction) writes
a new stamp, so in any process these show **at once** on the next request — one small file read or Redis GET.
A stamp that is missing (expired, evicted, the shared cache emptied) voids the user's tickets: the check fails
closed. What sends no signal — a queryset ``update()``, SQL, a session deleted or expired without a logout —
shows within ``MAP_TICKET_SECONDS`` (default 300 s), when the ticket expires and the full path decides again.
Across hosts the stamps and tickets compare wall clocks: keep the hosts on NTP.

**Freshness.** A new colouring or a change of regions or thresholds empties this process's entries at once
(signals, and ``regions.services`` after its bulk writes); made in another process it shows within
``MAP_MICROCACHE_SECONDS`` (default 5 s) as the entries there expire, or twice that while a busy entry is being
refreshed (``MapMicroCache.get``: one request refreshes it, the others are answered meanwhile).
"""

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import user_logged_out
from django.core import signing
from django.core.cache import caches
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse, HttpResponseNotModified
from django.http.response import ResponseHeaders
from django.urls import reverse

MAX_ENTRIES = 4096
clock = time.monotonic  # entry expiry, within one process; module-level so tests can move time on
wall_clock = time.time  # tickets and stamps, compared across processes and hosts
HIT_HEADER = "X-Map-Cache"  # "hit" on answers of the fast path: visible in a browser's network panel
TICKET_COOKIE = "jqs_map_ticket"
TICKET_SALT = "regions.map_cache.ticket"
STAMP_KEY = "map-ticket:stamp:{}"  # per user id, in caches["shared"]


@dataclass(frozen=True)
class CachedResponse:
    expires: float
    content: bytes
    headers: ResponseHeaders
    etag: str | None
    stale_until: float  # after ``expires``, answered meanwhile while one request refreshes it (MapMicroCache.get)


class MapMicroCache:
    """A bounded, thread-safe LRU of map responses (gunicorn runs several threads per worker)."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[tuple, CachedResponse] = OrderedDict()
        self._memo: dict[tuple, tuple[float, object]] = {}  # a few keys: one per period asked
        self._refreshing: dict[tuple, float] = {}  # keys being refreshed by a request, until when
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: tuple) -> CachedResponse | None:
        """The entry to answer with, or None: the caller takes the full path, whose response refreshes it.

        An entry is fresh for the ``seconds`` it was put with. For as long again it is stale: the first request
        to find it so refreshes it (None) while the others are still answered with it, so that one request per
        entry and process, not every request arriving meanwhile, takes the full path (a refresh that fails lets
        the next request try once its turn is over)."""
        now = clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires > now:
                self._entries.move_to_end(key)
                return entry
            if entry.stale_until <= now:
                del self._entries[key]
                self._refreshing.pop(key, None)
                return None
            if self._refreshing.get(key, 0.0) > now:
                return entry  # another request is refreshing it
            self._refreshing[key] = entry.stale_until
            return None

    def put(self, key: tuple, response: HttpResponse, seconds: float) -> None:
        headers = ResponseHeaders({name: value for name, value in response.items() if name.lower() != "set-cookie"})
        now = clock()
        entry = CachedResponse(now + seconds, response.content, headers, response.get("ETag"), now + 2 * seconds)
        with self._lock:
            self._refreshing.pop(key, None)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                evicted, _entry = self._entries.popitem(last=False)
                self._refreshing.pop(evicted, None)

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

    def clear(self, **_signal_kwargs) -> None:
        with self._lock:
            self._entries.clear()
            self._memo.clear()
            self._refreshing.clear()

    def __len__(self) -> int:
        return len(self._entries)


map_microcache = MapMicroCache()


# --- Tickets --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    user_id: int
    role: str
    jurisdiction: str  # the division code; "" for everywhere (superusers)
    authorised_at: float  # wall clock: when the request that issued it began
    expires: float
    session: str  # session_digest() of the session cookie it was issued with

    @property
    def scope(self) -> tuple[str, str]:
        return self.role, self.jurisdiction


def session_digest(session_key: str) -> str:
    """What a ticket keeps of its session: enough to tell sessions apart, nothing that opens one."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:24]


def scope_key(role: str, jurisdiction) -> tuple[str, str]:
    """The cache's and the ticket's name for a map scope (``regions.access.map_scope``'s role and jurisdiction)."""
    return role, jurisdiction.code if jurisdiction is not None else ""


def ticket_sign(ticket: Ticket) -> str:
    fields = [ticket.user_id, ticket.role, ticket.jurisdiction, ticket.authorised_at, ticket.expires, ticket.session]
    return signing.Signer(salt=TICKET_SALT).sign_object(fields)


# Cookie values whose signature this process has checked, with what they say: a session's every request sends the
# same value, and the HMAC is a third of the fast path's own time. What a ticket says is checked on every use.
_signed: dict[str, Ticket] = {}


def ticket_read(value: str | None, session_key: str | None) -> Ticket | None:
    """The valid ticket in a cookie value sent with ``session_key``, or None (absent, forged, tampered, expired,
    of another session, revoked, or of a role the map is not for). Never raises on bad input."""
    from .access import MAP_ROLES

    if not value or not session_key:
        return None
    ticket = _signed.get(value)
    if ticket is None:
        try:
            ticket = Ticket(*signing.Signer(salt=TICKET_SALT).unsign_object(value))
        except (signing.BadSignature, TypeError, ValueError):
            return None
        if len(_signed) >= MAX_ENTRIES:
            _signed.clear()
        _signed[value] = ticket
    now = wall_clock()
    if not (
        isinstance(ticket.user_id, int)
        and isinstance(ticket.jurisdiction, str)
        and isinstance(ticket.authorised_at, int | float)
        and isinstance(ticket.expires, int | float)
        and ticket.role in MAP_ROLES
        and ticket.expires > now
        and ticket.session == session_digest(session_key)
    ):
        return None
    stamp = caches["shared"].get(STAMP_KEY.format(ticket.user_id))
    if stamp is None or stamp > ticket.authorised_at:
        return None  # revoked since, or the stamp is gone (fail closed)
    return ticket


def ticket_issue(response: HttpResponse, *, user_id: int, scope: tuple[str, str], session_key: str, authorised_at: float) -> None:
    """Set a new ticket on ``response`` for what was authorised at ``authorised_at`` (see the module docstring)."""
    seconds = settings.MAP_TICKET_SECONDS
    # The user's stamp exists from their first ticket on: its absence later means it was lost, and voids tickets.
    caches["shared"].add(STAMP_KEY.format(user_id), authorised_at, timeout=stamp_lifetime())
    ticket = Ticket(user_id, *scope, authorised_at, wall_clock() + seconds, session_digest(session_key))
    response.set_cookie(
        TICKET_COOKIE,
        ticket_sign(ticket),
        max_age=seconds,
        path=reverse("api-region-map"),
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def stamp_lifetime() -> int:
    """A stamp outlives its tickets' usual day; when it expires the user's tickets fail closed and are reissued."""
    return max(settings.SESSION_COOKIE_AGE, settings.MAP_TICKET_SECONDS)


def tickets_revoke(user_id: int | None) -> None:
    """Void every map ticket of the user authorised before now, in every process (the next request of theirs
    takes the full path)."""
    if user_id is not None:
        caches["shared"].set(STAMP_KEY.format(user_id), wall_clock(), timeout=stamp_lifetime())


# --- The middleware -------------------------------------------------------------------------------------------


class MapFastPathMiddleware:
    """Answers a map data request carrying a valid ticket from ``map_microcache``; on the full path, keeps the map
    view's responses there and issues tickets on the map page and the map data (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.data_path = self.page_path = None  # resolved on first use: the URLconf is not loaded yet

    def __call__(self, request):
        if self.data_path is None:
            self.data_path, self.page_path = reverse("api-region-map"), reverse("regions:map")
        if request.method != "GET" or request.path not in (self.data_path, self.page_path):
            return self.get_response(request)
        authorised_at = wall_clock()  # before the full path reads the user: a change made meanwhile voids the ticket
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        ticket = ticket_read(request.COOKIES.get(TICKET_COOKIE), session_key) if settings.MAP_TICKET_SECONDS > 0 else None
        is_data = request.path == self.data_path
        seconds = settings.MAP_MICROCACHE_SECONDS
        key = None
        if is_data and seconds > 0:
            # From META, not request.headers / get_full_path(), which would parse every header and quote the URL.
            gzip_ok = "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "")
            key = (request.META.get("QUERY_STRING", ""), gzip_ok, request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
            if ticket is not None:
                entry = map_microcache.get((ticket.scope, *key))
                if entry is not None:
                    return self._answer(request, entry)
        response = self.get_response(request)
        made_for = getattr(response, "map_scope", None)  # set by the map view on an authorised 200
        if key is not None and made_for is not None and response.status_code == 200 and not response.cookies:
            map_microcache.put((made_for, *key), response, seconds)
        # The map page, or the map data as the view authorised it (a 304 too: a browser revalidating must not stay
        # on the full path once its ticket has expired).
        authorised = response.status_code == 200 if not is_data else made_for is not None and response.status_code in (200, 304)
        if authorised and settings.MAP_TICKET_SECONDS > 0 and self._wants_ticket(ticket, authorised_at):
            self._issue(request, response, authorised_at)
        return response

    @staticmethod
    def _wants_ticket(ticket: Ticket | None, now: float) -> bool:
        return ticket is None or ticket.expires - now < settings.MAP_TICKET_SECONDS / 2

    @staticmethod
    def _issue(request, response, authorised_at: float) -> None:
        """A ticket for the session's user, scoped as the map view scopes their data; none for anyone else."""
        from .access import map_scope

        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or not user.is_authenticated or session is None or not session.session_key:
            return
        scope = map_scope(user)
        if scope is not None:
            ticket_issue(response, user_id=user.pk, scope=scope_key(*scope), session_key=session.session_key, authorised_at=authorised_at)

    @staticmethod
    def _answer(request, entry: CachedResponse) -> HttpResponse:
        if entry.etag and entry.etag in request.META.get("HTTP_IF_NONE_MATCH", ""):
            response = HttpResponseNotModified()
            response["ETag"] = entry.etag
        else:
            response = HttpResponse(entry.content)
            # The headers as the full path's response had them, checked by ResponseHeaders when the entry was put;
            # copied as they are stored (setting them one by one again was a quarter of the fast path's time).
            response.headers._store.update(entry.headers._store)
        response[HIT_HEADER] = "hit"
        return response


# --- What empties the cache and what revokes tickets -----------------------------------------------------------


def _user_saved(sender, instance, update_fields=None, **_kwargs) -> None:
    if update_fields is not None and set(update_fields) == {"last_login"}:
        return  # the login's own save: the new session gets its ticket on its next map page
    tickets_revoke(instance.pk)


def _user_deleted(sender, instance, **_kwargs) -> None:
    tickets_revoke(instance.pk)


def _profile_changed(sender, instance, **_kwargs) -> None:
    tickets_revoke(instance.user_id)


def _logged_out(sender, request, user, **_kwargs) -> None:
    tickets_revoke(getattr(user, "pk", None))


def _connect_invalidation() -> None:
    """Empty this process's cache whenever the map's data changes here; revoke a user's tickets whenever what
    authorised them changes (in any process: the stamp is shared)."""
    from django.contrib.auth import get_user_model

    from .models import ColourThresholds, Region, RegionSnapshot, StaffProfile

    user_logged_out.connect(_logged_out, dispatch_uid="map_ticket_logout")
    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="map_ticket_user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="map_ticket_user_deleted")
    for signal in (post_save, post_delete):
        signal.connect(_profile_changed, sender=StaffProfile, dispatch_uid=f"map_ticket_profile_{id(signal)}")
        for model in (Region, RegionSnapshot, ColourThresholds):
            signal.connect(map_microcache.clear, sender=model, dispatch_uid=f"map_microcache_{model.__name__}_{id(signal)}")
