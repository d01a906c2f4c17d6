"""The OpenAPI document and its viewers: OpenAPI 3, generated without warnings, readable offline."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from jiaxing_qs.api_urls import router

pytestmark = pytest.mark.django_db

ASSET = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)


def test_the_schema_is_openapi_3_and_lists_every_resource(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    group = r"\(\?P<(\w+)>(?:\([^)]*\)|[^)])*\)"  # a named group, which may hold a (?:…) of its own
    listed = {"/api/" + re.sub(group, r"{\1}", prefix) + "/" for prefix, _viewset, _basename in router.registry}
    assert "/api/regions/{region_code}/snapshots/" in listed
    map_routes = {"/api/regions/map/", "/api/regions/{code}/panel/", "/api/regions/{code}/orders/", "/api/enterprises/priorities/"}
    assert listed | map_routes <= set(schema["paths"])
    assert schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_schema_generates_without_warnings(tmp_path):
    """Warnings mean an endpoint the generator could not describe (a broken or undocumented view)."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_the_schema_and_docs_need_a_login(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    for url in ("/api/docs/", "/api/redoc/"):  # pages for people: off to the login page
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_load_only_our_own_static_assets(client, supervisor, url):
    client.force_login(supervisor)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assets = ASSET.findall(html)
    assert assets, "the page loads no scripts at all?"
    assert not [asset for asset in assets if asset.startswith(("http://", "https://", "//"))]
    assert "https://" not in html and "http://" not in html  # no CDN, no web fonts, no validator badge
    for asset in assets:
        if asset.startswith(f"{url}?script"):  # Swagger UI's start-up script, from the page's own URL (not inline)
            assert client.get(asset)["Content-Type"].startswith("application/javascript")
            continue
        assert asset.startswith("/static/drf_spectacular_sidecar/")
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not in our static files"
