"""System checks of the enterprises app (``manage.py check``, also run by most commands and the dev server)."""

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext as _

from common.site import DEMO_BASE_URL, public_base_url_missing


def _public_base_url_warnings() -> list[checks.CheckMessage]:
    if not public_base_url_missing():
        return []
    return [
        checks.Warning(
            _("PUBLIC_BASE_URL is not set: quality codes encode %(demo)s, which the public cannot reach.") % {"demo": DEMO_BASE_URL},
            hint=_("Set PUBLIC_BASE_URL to the address the public reaches this site at before printing quality-code cards."),
            id="enterprises.W001",
        )
    ]


@checks.register(checks.Tags.compatibility)
def public_base_url_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Quality-code cards encode PUBLIC_BASE_URL: unset, every printed code points at this machine. Said by every
    command when DEBUG is off (production); the demo on this machine stays quiet."""
    return [] if settings.DEBUG else _public_base_url_warnings()


@checks.register(checks.Tags.compatibility, deploy=True)
def public_base_url_deploy_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``check --deploy`` says it whatever DEBUG is (without DEBUG the check above has said it already)."""
    return _public_base_url_warnings() if settings.DEBUG else []
