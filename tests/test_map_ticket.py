"""The map data's fast path (regions/map_cache.py): a signed map ticket answered from a cache keyed by role and
jurisdiction, before sessions; never another jurisdiction's data, never after a logout or a change of what
authorised it, and a plain full-path answer for any ticket that is not valid."""

import os
import subprocess
import sys
from http.cookies import SimpleCookie
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.cache import caches
from django.test import Client

from jiaxing_qs.tasks import run_pipeline
from regions import map_cache
from regions.map_cache import HIT_HEADER, STAMP_KEY, TICKET_COOKIE, Ticket, map_microcache, ticket_sign
from regions.models import Role, StaffProfile

from .clock import TEST_TODAY
from .factories import EnterpriseFactory, StaffProfileFactory, UserFactory

MAP_URL = "/api/regions/map/"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapped(region_tree):
    """Both counties with enterprises and a colouring, so that each county's map has something to show."""
    for n, town in enumerate(region_tree.towns):
        for i in range(6):
            EnterpriseFactory(town=town, lat=30.5 + n * 0.1 + i * 0.001, lon=120.7)
    run_pipeline(TEST_TODAY)
    return region_tree


@pytest.fixture
def settings_fast(settings):
    settings.MAP_MICROCACHE_SECONDS = 5
    settings.MAP_TICKET_SECONDS = 300
    return settings


def county_codes(response) -> set[str]:
    return {feature["properties"]["code"] for feature in response.json()["features"]}


def county_map(client, **headers):
    return client.get(MAP_URL, {"level": "county"}, **headers)


def ticketed(client, user) -> Client:
    """A logged-in browser that opened the map page, which hands out the ticket."""
    client.force_login(user)
    assert client.get("/map/").status_code == 200
    assert client.cookies.get(TICKET_COOKIE), "the map page issues a map ticket"
    return client


def ticket_of(client) -> Ticket:
    return Ticket(*signing.Signer(salt=map_cache.TICKET_SALT).unsign_object(client.cookies[TICKET_COOKIE].value))


# --- Issue and use --------------------------------------------------------------------------------------------


def test_the_map_page_issues_a_ticket_scoped_to_the_map_data_only(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    morsel = client.cookies[TICKET_COOKIE]
    assert morsel["path"] == MAP_URL
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and not morsel["secure"]
    assert int(morsel["max-age"]) == 300
    ticket = ticket_of(client)
    assert (ticket.user_id, ticket.role, ticket.jurisdiction) == (supervisor.pk, Role.SUPERVISOR, mapped.county_a.code)


def test_the_ticket_is_secure_under_https(client, mapped, supervisor, settings_fast):
    settings_fast.SESSION_COOKIE_SECURE = True
    ticketed(client, supervisor)
    assert client.cookies[TICKET_COOKIE]["secure"]


def test_a_ticket_is_answered_from_the_cache_without_a_query(client, mapped, supervisor, settings_fast, django_assert_num_queries):
    ticketed(client, supervisor)
    first = county_map(client, HTTP_ACCEPT_ENCODING="gzip")  # fills this process's entry for county A
    assert first.get(HIT_HEADER) is None
    with django_assert_num_queries(0):
        again = county_map(client, HTTP_ACCEPT_ENCODING="gzip")
    assert again[HIT_HEADER] == "hit" and again.content == first.content
    assert (again["Content-Encoding"], again["ETag"], again["Vary"]) == (first["Content-Encoding"], first["ETag"], first["Vary"])
    assert TICKET_COOKIE not in again.cookies  # nothing to renew


def test_sessions_of_one_county_share_one_entry(client, mapped, supervisor, inspector, settings_fast, django_assert_num_queries):
    colleague = StaffProfileFactory(user=UserFactory(username="colleague"), role=Role.SUPERVISOR, jurisdiction=mapped.county_a).user
    county_map(ticketed(client, supervisor))
    other_browser = ticketed(Client(), colleague)
    with django_assert_num_queries(0):
        shared = county_map(other_browser)
    assert shared[HIT_HEADER] == "hit" and county_codes(shared) == {mapped.county_a.code}
    assert len(map_microcache) == 1
    # Another role of the same county has its own entry: a role never gets what was made for another.
    assert county_map(ticketed(Client(), inspector)).get(HIT_HEADER) is None


def test_a_hit_with_the_etag_is_a_304(client, mapped, supervisor, settings_fast):
    etag = county_map(ticketed(client, supervisor))["ETag"]
    revalidated = county_map(client, HTTP_IF_NONE_MATCH=etag)
    assert revalidated.status_code == 304 and revalidated[HIT_HEADER] == "hit" and revalidated["ETag"] == etag


def test_the_first_map_request_without_a_page_gets_its_ticket_from_the_data(client, mapped, supervisor, settings_fast):
    client.force_login(supervisor)
    response = county_map(client)
    assert response.status_code == 200 and response.cookies[TICKET_COOKIE]["path"] == MAP_URL


def test_errors_and_refusals_are_neither_cached_nor_ticketed(client, mapped, supervisor, django_user_model, settings_fast):
    ticketed(client, supervisor)
    assert client.get(MAP_URL, {"level": "province"}).status_code == 400
    assert client.get(MAP_URL, {"level": "province"}).get(HIT_HEADER) is None
    nobody = Client()
    nobody.force_login(django_user_model.objects.create_user("no-role"))
    assert nobody.get("/map/").status_code == 403 and TICKET_COOKIE not in nobody.cookies
    refused = county_map(nobody)
    assert refused.status_code == 403 and TICKET_COOKIE not in refused.cookies


def test_switched_off(client, mapped, supervisor, settings_fast):
    settings_fast.MAP_TICKET_SECONDS = 0
    client.force_login(supervisor)
    client.get("/map/")
    county_map(client)
    assert TICKET_COOKIE not in client.cookies and county_map(client).get(HIT_HEADER) is None


# --- Tickets that are not valid take the full path --------------------------------------------------------------


def test_a_tampered_ticket_takes_the_full_path(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    value = client.cookies[TICKET_COOKIE].value
    payload, signature = value.rsplit(":", 1)
    for bad in (payload + ":" + signature[::-1], "garbage", "::", value + "x", "a" * 5000, value.replace(":", ";")):
        client.cookies[TICKET_COOKIE] = bad
        response = county_map(client)
        assert response.status_code == 200 and response.get(HIT_HEADER) is None, bad
        assert county_codes(response) == {mapped.county_a.code}
        assert response.cookies[TICKET_COOKIE].value  # the full path hands out a good one again


def test_a_forged_ticket_for_the_city_gets_only_the_county(client, mapped, supervisor, city_supervisor, settings_fast):
    """A county supervisor never gets the city's map: not with a ticket signed by another key, nor with a city
    supervisor's genuine ticket sent with their own session."""
    city = ticketed(Client(), city_supervisor)
    assert county_codes(county_map(city)) == {mapped.county_a.code, mapped.county_b.code}  # the city's entry is filled
    ticketed(client, supervisor)
    mine = ticket_of(client)
    claimed = Ticket(mine.user_id, Role.SUPERVISOR, mapped.city.code, mine.authorised_at, mine.expires, mine.session)
    fields = [claimed.user_id, claimed.role, claimed.jurisdiction, claimed.authorised_at, claimed.expires, claimed.session]
    forged = signing.Signer(key="a forger's key, not the server's", salt=map_cache.TICKET_SALT).sign_object(fields)
    for value in (forged, city.cookies[TICKET_COOKIE].value):
        client.cookies[TICKET_COOKIE] = value
        response = county_map(client)
        assert response.get(HIT_HEADER) is None
        assert county_codes(response) == {mapped.county_a.code}


def test_an_expired_ticket_takes_the_full_path(client, mapped, supervisor, settings_fast, clock):
    ticketed(client, supervisor)
    county_map(client)
    assert county_map(client)[HIT_HEADER] == "hit"
    clock.shift(301)
    response = county_map(client)
    assert response.status_code == 200 and response.get(HIT_HEADER) is None
    assert ticket_of_response(response).expires > ticket_of(client).authorised_at  # renewed on the way


def ticket_of_response(response) -> Ticket:
    return Ticket(*signing.Signer(salt=map_cache.TICKET_SALT).unsign_object(response.cookies[TICKET_COOKIE].value))


def test_a_ticket_is_renewed_in_its_second_half_when_the_full_path_is_taken(client, mapped, supervisor, settings_fast, clock):
    ticketed(client, supervisor)
    issued = ticket_of(client)
    clock.shift(100)
    assert TICKET_COOKIE not in county_map(client).cookies  # the entry missed: full path, ticket still fresh
    clock.shift(100)
    map_microcache.clear()
    renewed = county_map(client)
    assert ticket_of_response(renewed).expires > issued.expires


def test_another_users_ticket_is_worth_nothing_with_my_session(client, mapped, supervisor, outsider, settings_fast):
    theirs = ticketed(Client(), outsider)
    county_map(theirs)  # county B's entry is there
    ticketed(client, supervisor)
    client.cookies[TICKET_COOKIE] = theirs.cookies[TICKET_COOKIE].value
    response = county_map(client)
    assert response.get(HIT_HEADER) is None and county_codes(response) == {mapped.county_a.code}


def test_a_ticket_without_its_session_is_refused(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    stolen = Client()
    stolen.cookies[TICKET_COOKIE] = client.cookies[TICKET_COOKIE].value
    assert county_map(stolen).status_code in (401, 403)


def test_a_ticket_opens_nothing_but_the_map_data(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    only_ticket = Client()
    only_ticket.cookies[TICKET_COOKIE] = client.cookies[TICKET_COOKIE].value
    assert only_ticket.get(f"/api/regions/{mapped.county_a.code}/panel/").status_code in (401, 403)
    assert only_ticket.get("/map/").status_code == 302  # to the login page
    assert only_ticket.get("/api/enterprises/").status_code in (401, 403)


# --- Revocation: at once, in every process ---------------------------------------------------------------------


def test_after_logout_the_ticket_and_the_old_session_get_nothing(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    client.logout()
    for name, value in cookies.items():
        client.cookies[name] = value
    refused = county_map(client)
    assert refused.status_code in (401, 403) and refused.get(HIT_HEADER) is None


ANOTHER_WORKER = """
import sys, types
import django, time_machine
django.setup()
from django.contrib.auth.signals import user_logged_out
from regions import map_cache
with time_machine.travel(float(sys.argv[2]), tick=False):  # the test's clock, so the moment is the test's too
    if sys.argv[1] == "logout":  # what django.contrib.auth.logout sends, there
        user_logged_out.send(sender=None, request=None, user=types.SimpleNamespace(pk=int(sys.argv[3])))
    else:  # what saving the staff profile there does
        map_cache.tickets_revoke(int(sys.argv[3]))
"""


def in_another_process(what: str, user_id: int) -> None:
    """Another worker, sharing this one's caches["shared"] (the same VAR_DIR, or CACHE_URL) but not its memory."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "jiaxing_qs.settings"}
    moment = str(map_cache.wall_clock())
    done = subprocess.run(
        [sys.executable, "-c", ANOTHER_WORKER, what, moment, str(user_id)], cwd=ROOT, env=environment, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_a_logout_in_another_process_is_honoured_at_once(client, mapped, supervisor, settings_fast):
    settings_fast.MAP_MICROCACHE_SECONDS = 600  # the other process takes seconds to start: the entry must outlive it
    ticketed(client, supervisor)
    county_map(client)
    assert county_map(client)[HIT_HEADER] == "hit"
    session_store = import_module(django_settings.SESSION_ENGINE).SessionStore
    session_store(session_key=client.cookies["sessionid"].value).delete()  # the other worker ended the session …
    in_another_process("logout", supervisor.pk)  # … and said so
    assert len(map_microcache) == 1, "this process's memory still holds the answer"
    refused = county_map(client)
    assert refused.status_code in (401, 403) and refused.get(HIT_HEADER) is None


def test_a_jurisdiction_change_in_another_process_is_honoured_at_once(client, mapped, supervisor, settings_fast):
    settings_fast.MAP_MICROCACHE_SECONDS = 600  # the other process takes seconds to start: the entry must outlive it
    ticketed(client, supervisor)
    assert county_codes(county_map(client)) == {mapped.county_a.code}
    assert county_map(client)[HIT_HEADER] == "hit"
    StaffProfile.objects.filter(user=supervisor).update(jurisdiction=mapped.county_b)  # no signal here: it was there
    in_another_process("profile", supervisor.pk)
    moved = county_map(client)
    assert moved.get(HIT_HEADER) is None and county_codes(moved) == {mapped.county_b.code}
    assert ticket_of_response(moved).jurisdiction == mapped.county_b.code


def test_a_jurisdiction_or_role_change_here_is_honoured_at_once(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    profile = supervisor.staff_profile
    profile.jurisdiction = mapped.county_b
    profile.save()
    assert county_codes(county_map(client)) == {mapped.county_b.code}
    profile.delete()
    assert county_map(client).status_code == 403


def test_a_password_change_or_deactivation_is_honoured_at_once(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    supervisor.set_password("another horse battery staple")
    supervisor.save()
    assert county_map(client).status_code in (401, 403)  # the session ended with the password, and so did the ticket
    ticketed(client, supervisor)
    county_map(client)
    supervisor.is_active = False
    supervisor.save()
    assert county_map(client).status_code in (401, 403)


def test_a_change_without_a_signal_shows_within_the_tickets_lifetime(client, mapped, supervisor, settings_fast, clock):
    """The documented bound: a session deleted without a logout (clearsessions, expiry) ends the ticket's use
    when the ticket expires."""
    ticketed(client, supervisor)
    county_map(client)
    session_store = import_module(django_settings.SESSION_ENGINE).SessionStore
    session_store(session_key=client.cookies["sessionid"].value).delete()
    assert county_map(client)[HIT_HEADER] == "hit"  # within MAP_TICKET_SECONDS (and the entry's time)
    clock.shift(301)
    assert county_map(client).status_code in (401, 403)


def test_a_lost_stamp_fails_closed(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    county_map(client)
    caches["shared"].delete(STAMP_KEY.format(supervisor.pk))  # evicted, expired, Redis emptied
    response = county_map(client)
    assert response.get(HIT_HEADER) is None and response.status_code == 200
    assert county_map(client)[HIT_HEADER] == "hit"  # the full path issued a new ticket and stamp


def test_a_new_colouring_empties_the_cache(client, mapped, supervisor, settings_fast):
    ticketed(client, supervisor)
    before = county_map(client).json()
    EnterpriseFactory(town=mapped.town_a1)
    run_pipeline(TEST_TODAY)
    after = county_map(client)
    assert after.get(HIT_HEADER) is None and after.json() != before


def test_the_cache_keeps_at_most_its_bound():
    from django.http import HttpResponse

    small = map_cache.MapMicroCache(max_entries=2)
    for n in range(3):
        small.put((("supervisor", "330402"), f"/api/regions/map/?n={n}", False, None), HttpResponse(b"{}"), seconds=60)
    assert len(small) == 2 and small.get((("supervisor", "330402"), "/api/regions/map/?n=0", False, None)) is None


def test_the_ticket_cookie_value_needs_no_quoting():
    value = ticket_sign(Ticket(1, Role.SUPERVISOR, "330402", 1.5, 2.5, "ab" * 12))
    cookie = SimpleCookie()
    cookie[TICKET_COOKIE] = value
    assert cookie.output().endswith(f"{TICKET_COOKIE}={value}")


def test_an_expired_entry_is_refreshed_by_one_request_while_the_others_get_it(monkeypatch):
    from django.http import HttpResponse

    now = [100.0]
    monkeypatch.setattr(map_cache, "clock", lambda: now[0])
    cache, key = map_cache.MapMicroCache(), (("supervisor", "330402"), "/api/regions/map/", False, None)
    cache.put(key, HttpResponse(b"old"), seconds=5)
    now[0] = 105.5
    assert cache.get(key) is None  # this request takes the full path and refreshes
    assert cache.get(key).content == b"old"  # the others meanwhile: one full-path request, not a herd
    cache.put(key, HttpResponse(b"new"), seconds=5)
    assert cache.get(key).content == b"new"
    now[0] = 120.0  # past twice its time: nobody gets it
    assert cache.get(key) is None and cache.get(key) is None
