"""The quality code (一码): issue, find and revoke an enterprise's code, and draw it as a QR.

Each enterprise has one active code, an unguessable token; its QR encodes the public URL /q/<token>/ and is
coloured by the enterprise's supervision category. Revoking keeps the old row (who, when, why) and issues a
fresh token, so a leaked or misprinted code stops working at once. Codes revoked or issued in bulk get their
history rows in bulk too.
"""

import io
from collections.abc import Collection, Iterable

import segno
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history

from common.palette import PALETTE
from common.site import public_base_url

from .models import CODE_COLOURS, Enterprise, QualityCode

# Dark colour of the QR for each code colour (Enterprise.code_colour): the colour's mark, since the risk yellow
# is too pale for a scanner on white paper (routine supervision prints in a dark amber that still reads as yellow).
QR_DARK = {colour: PALETTE[colour].mark for colour in CODE_COLOURS.values()}
# Not yet categorised by the pipeline: plain ink rather than a colour that would claim a category.
QR_UNCLASSIFIED = "#1f2933"
CODE_COLOUR_LABELS = {"red": _("red code"), "yellow": _("yellow code"), "blue": _("blue code"), "green": _("green code")}
ISSUE_BATCH = 5000
PUBLIC_CHECKS = 5
BULK_ISSUE_REASON = _("codes issued in bulk")


def _active():
    return QualityCode.objects.filter(revoked_at__isnull=True)


# --- Services ---------------------------------------------------------------------------------------------


def code_issue(*, enterprise: Enterprise) -> QualityCode:
    """Issue a new active code; the database refuses a second active code for the same enterprise."""
    return QualityCode.objects.create(enterprise=enterprise)


def code_for(*, enterprise: Enterprise) -> QualityCode:
    """The enterprise's active code, issued on first use (codes are issued lazily as well as in bulk)."""
    code = _active().filter(enterprise=enterprise).first()
    if code is not None:
        return code
    try:
        with transaction.atomic():
            return code_issue(enterprise=enterprise)
    except IntegrityError:
        # A concurrent request issued it between our read and our insert: use theirs.
        return _active().get(enterprise=enterprise)


@transaction.atomic
def codes_revoke(*, enterprise_ids: Iterable[int], by, reason: str) -> int:
    """Revoke the active codes of these enterprises and issue each a fresh token; returns how many were revoked.

    The revoked rows stay, with who revoked them, when and why; each revoked and each fresh code gets a history
    row by ``by`` with ``reason``. A few statements whatever the number of enterprises.
    """
    ids = list(enterprise_ids)
    codes = list(_active().filter(enterprise_id__in=ids).select_for_update())
    now, reason = timezone.now(), reason[:300]
    QualityCode.objects.filter(pk__in=[code.pk for code in codes]).update(revoked_at=now, revoked_by=by, revoke_reason=reason)
    for code in codes:
        code.revoked_at, code.revoked_by, code.revoke_reason = now, by, reason
    QualityCode.history.bulk_history_create(codes, update=True, batch_size=ISSUE_BATCH, default_user=by, default_change_reason=reason)
    fresh = [QualityCode(enterprise_id=pk) for pk in ids]
    bulk_create_with_history(fresh, QualityCode, batch_size=ISSUE_BATCH, default_user=by, default_change_reason=reason)
    return len(codes)


def code_revoke(*, enterprise: Enterprise, by, reason: str) -> QualityCode:
    """Revoke the enterprise's code (its old URL then answers 404) and return the fresh one."""
    codes_revoke(enterprise_ids=[enterprise.pk], by=by, reason=reason)
    return _active().get(enterprise=enterprise)


def codes_issue_missing() -> int:
    """Issue a code to every enterprise without an active one, in batches; a second run issues nothing."""
    missing = Enterprise.objects.filter(~Exists(_active().filter(enterprise=OuterRef("pk")))).order_by("pk")
    with translation.override(settings.LANGUAGE_CODE):  # stored text is in the site language
        reason = str(BULK_ISSUE_REASON)
    issued, last = 0, 0
    while ids := list(missing.filter(pk__gt=last).values_list("pk", flat=True)[:ISSUE_BATCH]):
        with transaction.atomic():
            bulk_create_with_history([QualityCode(enterprise_id=pk) for pk in ids], QualityCode, default_change_reason=reason)
        issued += len(ids)
        last = ids[-1]
    return issued


# --- Selectors --------------------------------------------------------------------------------------------


def code_by_token(token: str) -> QualityCode | None:
    """The active code with this token, or None for an unknown or revoked one."""
    return _active().filter(token=token).select_related("enterprise").first()


def public_profile(enterprise: Enterprise, *, withheld_check_ids: Collection[int] = ()) -> dict:
    """What the public may see of an enterprise (一码 page): name, credit code, products, category, recent checks.

    Built from named columns only, so nothing confidential (address, people, notes, photos, risk reasons)
    can reach the page by accident. The outcome of a check in ``withheld_check_ids`` is not shown (its
    ``conforming`` is None and ``pending`` true): the caller decides which, e.g. the results whose objection
    window is still open (inspections.rectification.selectors.spot_checks_awaiting_objection_window).
    """
    checks = list(
        enterprise.spot_checks.order_by("-checked_on", "-id").values("id", "checked_on", "conforming", "product__name")[:PUBLIC_CHECKS]
    )
    for check in checks:
        check["pending"] = check.pop("id") in withheld_check_ids
        if check["pending"]:
            check["conforming"] = None
    return {
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "category": enterprise.category,
        "category_label": enterprise.get_category_display() if enterprise.category else "",
        "colour": enterprise.code_colour or "none",
        "colour_label": CODE_COLOUR_LABELS.get(enterprise.code_colour, ""),
        # The four categories, most supervision first, so the public sees where this one sits.
        "scale": [
            {"label": category.label, "dark": QR_DARK[colour], "current": category == enterprise.category}
            for category, colour in CODE_COLOURS.items()
        ],
        "products": list(enterprise.made.order_by("product__name").values_list("product__name", flat=True).distinct()),
        "checks": checks,
    }


# --- The QR -----------------------------------------------------------------------------------------------


def code_url(code: QualityCode) -> str:
    """The absolute URL the QR encodes: the public address (PUBLIC_BASE_URL) plus /q/<token>/."""
    return public_base_url() + reverse("inspections:quality-code", args=[code.token])


def qr_dark(enterprise: Enterprise) -> str:
    return QR_DARK.get(enterprise.code_colour, QR_UNCLASSIFIED)


def _qr(code: QualityCode):
    # Level M survives a scuffed or partly covered print; segno raises it further when the size allows.
    return segno.make(code_url(code), error="m", micro=False)


def qr_svg(code: QualityCode, *, inline: bool = False) -> str:
    """The QR as SVG in the category's colour; ``inline`` drops the XML declaration and fixed size for embedding in HTML."""
    buffer = io.BytesIO()
    _qr(code).save(
        buffer,
        kind="svg",
        dark=qr_dark(code.enterprise),
        light="#fff",
        scale=8,
        border=4,
        xmldecl=not inline,
        omitsize=inline,
        svgclass="qr",
        lineclass=None,
    )
    return buffer.getvalue().decode()


def qr_png(code: QualityCode, *, scale: int = 16) -> bytes:
    """The QR as PNG in the category's colour, about 600 px wide at the default scale (sharp when printed)."""
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="png", dark=qr_dark(code.enterprise), light="#fff", scale=scale, border=4)
    return buffer.getvalue()
