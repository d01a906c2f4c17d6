"""The API's two viewers in headless Chromium with every request off this machine refused: nothing is asked of the
internet (ReDoc's bundle has a hard-coded logo on cdn.redoc.ly; the page's policy keeps the browser from asking)."""

import os
from urllib.parse import urlparse

import pytest

from .services import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def context(live_server):
    require_browser()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.outside = []

        def only_this_machine(route):
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlparse(url).hostname in ("127.0.0.1", "localhost"):
                return route.continue_()
            context.outside.append(url)
            return route.abort()

        context.route("**/*", only_this_machine)
        yield context
        browser.close()


def test_swagger_ui_and_redoc_ask_nothing_of_the_internet(context, live_server, supervisor):
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/api/docs/")
    page.fill("#id_username", "supervisor")
    page.fill("#id_password", "correct horse battery staple")
    page.click(".login-card button[type=submit]")
    page.wait_for_url(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("text=API docs by Redocly")  # the sidebar with the attribution is drawn
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text().startswith("Jiaxing QS API")
    assert context.outside == []
    assert page.locator("img[src*='redoc.ly']").count() == 0  # refused by the policy, so ReDoc dropped it
