"""How a value of a record's history is shown: local time to the minute, "—" for nothing, yes/no for booleans.

simple-history hands the admin's History view the raw values of each change (a UTC datetime prints as
"2026-12-03 10:30:13.899383+00:00"); the admin's history helper and its inline histories show them through
``history_value``.
"""

import datetime as dt

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _


def history_value(value):
    """A value of a change as people read it (other values unchanged)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value) if timezone.is_aware(value) else value, "Y-m-d H:i")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
