"""Periods are calendar months, stored as their first day and written YYYY-MM."""

import datetime as dt

from django.utils.translation import gettext as _


def period_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def parse_period(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(_("A period is written YYYY-MM, e.g. 2026-11; got %(text)r.") % {"text": text}) from None


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
