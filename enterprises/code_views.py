"""Quality-code (一码) pages: the public profile a scan opens, and the staff's QR downloads, card and revocation."""

from collections.abc import Callable, Collection

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from common.site import public_base_url_missing
from regions.access import ALL_STAFF, role_required
from regions.models import SUPERVISORY_ROLES
from regions.selectors import bureau_for

from .codes import code_by_token, code_for, code_revoke, code_url, public_profile, qr_dark, qr_png, qr_svg
from .selectors import enterprises_within

CODE_REVOKERS = SUPERVISORY_ROLES


def _bureau(enterprise=None) -> dict:
    """The bureau of the enterprise's town (its city's, unless the county has its own; else the settings')."""
    contact = bureau_for(enterprise.town_id if enterprise is not None else None)
    return {"bureau_name": contact.name, "bureau_phone": contact.phone}


@never_cache  # a revoked code must stop working at once, not when a cache expires
def code_public(request, token, *, withheld_checks: Callable[[int], Collection[int]] = lambda enterprise_id: ()):
    """The public profile a scan opens (an inspector with an open task there gets its check form instead:
    inspections.fieldwork.views.code_scan, which the route points to and which says, through
    ``withheld_checks(enterprise_id)``, which checks' outcomes are not yet public)."""
    code = code_by_token(token)
    if code is None:
        response = render(request, "enterprises/code_public.html", {"invalid": True, **_bureau()}, status=404)
    else:
        profile = public_profile(code.enterprise, withheld_check_ids=withheld_checks(code.enterprise_id))
        response = render(request, "enterprises/code_public.html", {"profile": profile, **_bureau(code.enterprise)})
    response["X-Robots-Tag"] = "noindex"  # tokens must not end up in search engines
    return response


def _enterprise(request, pk):
    return get_object_or_404(enterprises_within(request.jurisdiction), pk=pk)


def _image(content, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-cache"  # the colour follows the category, the token a revocation
    return response


@role_required(*ALL_STAFF)
def code_svg(request, pk):
    enterprise = _enterprise(request, pk)
    return _image(qr_svg(code_for(enterprise=enterprise)), "image/svg+xml", f"{enterprise.credit_code}.svg")


@role_required(*ALL_STAFF)
def code_png(request, pk):
    enterprise = _enterprise(request, pk)
    return _image(qr_png(code_for(enterprise=enterprise)), "image/png", f"{enterprise.credit_code}.png")


@role_required(*ALL_STAFF)
def code_card(request, pk):
    """The printable A6 card: bureau, enterprise, credit code, the QR and the category's colour band."""
    enterprise = _enterprise(request, pk)
    code = code_for(enterprise=enterprise)
    context = {
        "enterprise": enterprise,
        "code": code,
        "qr": mark_safe(qr_svg(code, inline=True)),  # segno's own markup; it embeds no user text
        "url": code_url(code),
        "colour": qr_dark(enterprise),
        "base_url_missing": public_base_url_missing(),
        **_bureau(enterprise),
    }
    return render(request, "enterprises/code_card.html", context)


@role_required(*CODE_REVOKERS)
@require_POST
def code_revoke_view(request, pk):
    """Revoke the enterprise's code and issue a new one (a reason is required: it is kept with the old code)."""
    enterprise = _enterprise(request, pk)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Give a reason for revoking the quality code."))
    else:
        code_revoke(enterprise=enterprise, by=request.user, reason=reason)
        messages.success(request, _("The quality code was revoked; a new code has been issued. Print the new card."))
    return redirect("enterprises:detail", pk=enterprise.pk)
