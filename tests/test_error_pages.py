"""Error pages (400/403/404/500) come in the site's layout, in the user's language, with a way back."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_answered_in_the_layout_in_chinese_with_a_way_back(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    text = page.content.decode()
    assert "页面不存在" in text and 'class="topbar"' in text
    assert "<title>页面不存在 · " in text  # the browser's tab and history name the page
    assert reverse("regions:home") in text and "data-back" in text  # static/js/site.js goes back (no inline script)
    assert "Page not found" not in text


def test_a_missing_page_in_english(client_en):
    page = client_en.get("/no-such-page/")
    assert page.status_code == 404 and "Page not found" in page.content.decode()


def test_a_refused_page_says_why_in_the_layout_not_a_bare_forbidden(client, inspector):
    client.force_login(inspector)
    page = client.get(reverse("inspections:dashboard"))
    assert page.status_code == 403
    text = page.content.decode()
    assert "您无权打开此页面" in text and 'class="sidemenu"' in text
    assert "403 Forbidden" not in text


def test_a_refused_page_in_english(client_en, inspector):
    client_en.force_login(inspector)
    page = client_en.get(reverse("inspections:dashboard"))
    assert page.status_code == 403 and "You may not open this page" in page.content.decode()
    assert "<title>You may not open this page · " in page.content.decode()


def test_a_bad_request_is_explained():
    request = RequestFactory().get("/")
    request.user = None
    page = defaults.bad_request(request, exception=None)
    assert page.status_code == 400 and "400" in page.content.decode()


def test_a_server_error_page_renders_without_the_request_context():
    """The 500 page must not need the database or the user: the error may lie there."""
    with translation.override("zh-hans"):  # the locale middleware has chosen the language before any error
        page = defaults.server_error(RequestFactory().get("/"))
    assert page.status_code == 500
    text = page.content.decode()
    assert "服务器出错" in text and 'href="/"' in text
