"""Periods: a snapshot's period is a calendar month, stored as its first day and written YYYY-MM; a reporting
period (``Period``: the dashboard, KPIs, exports) is a span of whole months, written as a year, a month or a range."""

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _


def period_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


MONTH_PATTERN = r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])"  # YYYY-MM: four ASCII digits for the year, two for the month


def parse_period(text: str) -> dt.date:
    """A period written YYYY-MM (the API documents MONTH_PATTERN: whatever matches it parses)."""
    if re.fullmatch(MONTH_PATTERN, text):
        return dt.date(int(text[:4]), int(text[5:]), 1)
    raise ValueError(_("A period is written YYYY-MM, e.g. 2026-11; got %(text)r.") % {"text": text})


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` earlier, clipped to the end of a shorter month."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for candidate_day in range(day.day, 27, -1):
        try:
            return dt.date(year, month + 1, candidate_day)
        except ValueError:
            continue
    return dt.date(year, month + 1, min(day.day, 28))


def month_end(period: dt.date) -> dt.date:
    following = months_before(period.replace(day=1), -1)
    return following - dt.timedelta(days=1)


PERIOD_PATTERN = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:\s*\.\.\s*(\d{4})(?:-(\d{1,2}))?)?$")


@dataclass(frozen=True)
class Period:
    """A span of whole months, both ends inclusive."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.start.month == 1 and self.end.month == 12:
            return f"{self.start.year}" if self.start.year == self.end.year else f"{self.start.year}..{self.end.year}"
        if (self.start.year, self.start.month) == (self.end.year, self.end.month):
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m}..{self.end:%Y-%m}"

    @property
    def last_month(self) -> dt.date:
        return self.end.replace(day=1)


def period_parse(text: str) -> Period:
    """A year (2025), a month (2025-03) or a range of either (2025-01..2025-06, 2024..2025)."""
    match = PERIOD_PATTERN.match((text or "").strip())
    if not match:
        raise ValueError(
            _("Write a period as a year (2025), a month (2025-03) or a range (2025-01..2025-06); got %(text)r.") % {"text": text}
        )
    year1, month1, year2, month2 = match.groups()
    if year2 is None:
        year2, month2 = year1, month1
    try:
        start = dt.date(int(year1), int(month1 or 1), 1)
        end = month_end(dt.date(int(year2), int(month2 or 12), 1))
    except ValueError:
        raise ValueError(_("%(text)r names a month that does not exist.") % {"text": text}) from None
    if end < start:
        raise ValueError(_("The period %(text)r ends before it starts.") % {"text": text})
    return Period(start, end)
