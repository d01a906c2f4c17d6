"""Content-Security-Policy and the other security headers, on every response.

The app loads nothing from elsewhere (offline intranet: every script, style, font and image is in static/), so
the policy can be strict: scripts only from this site or in a ``<script>`` carrying the request's nonce (there is
none today: data goes in ``json_script`` blocks, which are not run), no inline event handlers or ``javascript:``
links, ``<style>`` elements only with the nonce (``nonce="{{ request.csp_nonce }}"``), images from this site (and
the configured base-map tile server, ``MAP_TILE_URL``), no plugins, no framing by another site, forms posting here only.

Two allowances, each for something the app cannot change cheaply: ``style`` *attributes* are allowed
(``style-src-attr 'unsafe-inline'``: a few templates and map.js set a colour inline; an attribute cannot run script,
and images still load only from here), and ReDoc (/api/redoc/), whose library writes its own ``<style>`` elements
without a nonce and starts its search in a worker made from a blob, may use inline ``<style>`` and blob: workers.
(ReDoc's "powered by" logo from cdn.redoc.ly is refused: nothing is loaded from outside.) The Django admin's
one inline ``<style>`` (a changelist without actions) is allowed by its hash.

With DEBUG on, a 404 or 500 is Django's debug page, with its own inline styles and scripts: it gets no policy.

Django's SecurityMiddleware already sends X-Content-Type-Options: nosniff, Referrer-Policy: same-origin and
Cross-Origin-Opener-Policy: same-origin, and XFrameOptionsMiddleware X-Frame-Options: DENY; frame-ancestors
'none' says the same to browsers that read CSP.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings

# sha256 of the inline <style> of django/contrib/admin/templates/admin/change_list.html (Django 5.2)
ADMIN_CHANGELIST_STYLE = "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='"
REDOC_PATHS = ("/api/redoc/",)


def tile_origin() -> str:
    """The origin of the configured base-map tiles ("" when none or the tiles come from this site)."""
    url = urlsplit(getattr(settings, "MAP_TILE_URL", "") or "")
    return f"{url.scheme}://{url.netloc}" if url.scheme and url.netloc else ""


def content_security_policy(nonce: str, *, redoc: bool = False) -> str:
    styles = "'self' 'unsafe-inline'" if redoc else f"'self' 'nonce-{nonce}' {ADMIN_CHANGELIST_STYLE}"
    images = " ".join(filter(None, ["'self'", "data:", "blob:", tile_origin()]))
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": styles,
        "style-src-attr": "'unsafe-inline'",
        "img-src": images,
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:" if redoc else "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    """Gives each request a fresh nonce (``request.csp_nonce``) and each response the policy built with it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages (DEBUG only) carry their own inline styles and scripts
        if "Content-Security-Policy" not in response:
            redoc = request.path.startswith(REDOC_PATHS)
            response["Content-Security-Policy"] = content_security_policy(request.csp_nonce, redoc=redoc)
        return response
