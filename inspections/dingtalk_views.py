"""DingTalk's 免登 (login without a password inside DingTalk) for the links of work notifications.

The link opens ``/dingtalk/login/?bureau=<division code>&next=<task page>`` inside DingTalk. The page asks the
JSAPI for an auth code with the bureau's corp id (static/js/dingtalk-login.js, over the vendored dingtalk-jsapi)
and posts it back; the server exchanges it for the member's userid with the bureau's internal app
(inspections.dingtalk.userid_for_auth_code), logs in the active staff account mapped to that userid and goes on
to ``next``. Outside DingTalk, or refused, the page offers the password login.

Refused exchanges count against the caller's address like failed password logins (common.login_throttle, the rule
in jiaxing_qs.login): once the address is locked, codes are not even sent to DingTalk until the lock ends.
"""

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from common.login_throttle import login_failure_record, login_refusal
from regions.models import Region
from regions.selectors import staff_for_dingtalk_userid

from . import dingtalk
from .notifications import setting_for


def _next_page(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return reverse("inspections:my-tasks")


def _bureau_app(code: str) -> tuple[Region | None, dingtalk.DingTalkApp | None]:
    """The bureau a link names and the DingTalk app of its notification setting (its own or an ancestor's)."""
    bureau = Region.objects.filter(code=code).first() if code else None
    return bureau, dingtalk.DingTalkApp.of(setting_for(bureau)) if bureau else None


def _page(request, *, bureau, app, next_page: str, refusal: str = "", status: int = 200):
    context = {
        "bureau": bureau,
        "corp_id": app.corp_id if app else "",
        "next": next_page,
        "refusal": refusal,
        "password_login": f"{reverse('login')}?{urlencode({'next': next_page})}",
    }
    return render(request, "inspections/dingtalk_login.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def dingtalk_login(request):
    """GET: the 免登 page (straight on to ``next`` when already logged in). POST ``code``: the exchange."""
    next_page = _next_page(request)
    bureau, app = _bureau_app(request.POST.get("bureau") or request.GET.get("bureau", ""))
    if request.method == "GET":
        if request.user.is_authenticated:
            return redirect(next_page)
        refusal = "" if app else _("DingTalk login is not set up for this bureau.")
        return _page(request, bureau=bureau, app=app, next_page=next_page, refusal=refusal)
    if app is None:
        return _page(
            request, bureau=bureau, app=app, next_page=next_page, refusal=_("DingTalk login is not set up for this bureau."), status=403
        )
    locked = login_refusal(request)
    if locked:
        return _page(request, bureau=bureau, app=app, next_page=next_page, refusal=locked, status=429)
    code = request.POST.get("code", "").strip()
    try:
        userid = dingtalk.userid_for_auth_code(app, code) if code else ""
    except dingtalk.DingTalkError as error:
        login_failure_record(request)
        refusal = _("DingTalk could not confirm who you are (%(reason)s). Open the link from DingTalk again.") % {"reason": error}
        return _page(request, bureau=bureau, app=app, next_page=next_page, refusal=refusal, status=403)
    profile = staff_for_dingtalk_userid(userid, bureau=bureau)
    if profile is None:
        login_failure_record(request)
        refusal = _(
            "Your DingTalk account is not linked to an active staff account of this bureau. Ask an administrator to "
            "enter your DingTalk userid (%(userid)s) in your staff profile."
        ) % {"userid": userid or "—"}
        return _page(request, bureau=bureau, app=app, next_page=next_page, refusal=refusal, status=403)
    login(request, profile.user)  # the one configured backend (settings.AUTHENTICATION_BACKENDS)
    return redirect(next_page)
