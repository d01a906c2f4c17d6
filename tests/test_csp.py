"""Security headers on every page: a strict Content-Security-Policy (common/csp.py) and Django's own headers; no
template runs inline script (a <script> without src, an on… handler, a javascript: link)."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {name: value for name, _sep, value in (part.strip().partition(" ") for part in policy.split(";"))}


@pytest.mark.parametrize("url", ["/accounts/login/", "/public/plans/999/", "/no-such-page/", "/admin/login/"])
def test_every_page_has_a_strict_policy_and_the_other_security_headers(client, url):
    response = client.get(url)
    policy = directives(response)
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == f"'self' 'nonce-{nonce}'", "no 'unsafe-inline', no 'unsafe-eval', no other host"
    assert policy["style-src"].startswith(f"'self' 'nonce-{nonce}'") and "unsafe-inline" not in policy["style-src"]
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'" and policy["connect-src"] == "'self'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_each_response_gets_its_own_nonce_and_the_pages_styles_carry_it(client):
    first, second = client.get("/accounts/login/"), client.get("/accounts/login/")
    nonces = [re.search(r"'nonce-([^']+)'", directives(r)["style-src"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16
    assert f'<style nonce="{nonces[1]}">' in second.content.decode()


def test_the_pages_of_staff_carry_the_nonce_on_every_style_element(client, supervisor):
    client.force_login(supervisor)
    for url in (reverse("regions:map"), reverse("inspections:dashboard"), reverse("inspections:simulator")):
        response = client.get(url)
        html = response.content.decode()
        nonce = re.search(r"'nonce-([^']+)'", directives(response)["style-src"]).group(1)
        styles = re.findall(r"<style[^>]*>", html)
        assert styles and all(f'nonce="{nonce}"' in tag for tag in styles), url


def test_redoc_alone_may_write_inline_styles(client, supervisor):
    client.force_login(supervisor)
    assert "'unsafe-inline'" in directives(client.get("/api/redoc/"))["style-src"]
    assert "'unsafe-inline'" not in directives(client.get("/api/docs/"))["style-src"]
    assert "'unsafe-inline'" not in directives(client.get("/api/redoc/"))["script-src"]


def test_a_configured_tile_server_may_serve_images(settings):
    from common.csp import content_security_policy

    settings.MAP_TILE_URL = "https://tiles.bureau.example/{z}/{x}/{y}.png"
    assert "img-src 'self' data: blob: https://tiles.bureau.example;" in content_security_policy("n")
    settings.MAP_TILE_URL = ""
    assert "img-src 'self' data: blob:;" in content_security_policy("n")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:json|ld\+json)\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def test_no_template_has_inline_script_handlers_or_javascript_links():
    """The policy would block them: behaviour goes in static/js (site.js for data-confirm, data-print, data-back)."""
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, re.compile(r"javascript:", re.IGNORECASE)):
            found += [f"{path.relative_to(ROOT)}: {match.group(0)}" for match in pattern.finditer(text)]
    assert found == []


def test_the_check_catches_an_inline_script(tmp_path):
    assert INLINE_SCRIPT.search("<script>alert(1)</script>") and not INLINE_SCRIPT.search('<script src="/s.js"></script>')
    assert INLINE_HANDLER.search('<a onclick="x()">') and not INLINE_HANDLER.search('<a data-confirm="on=1">')
