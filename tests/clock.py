"""The suite's business day and moment (see the clock fixture in conftest.py): import them, never write the date again."""

import datetime as dt
import zoneinfo

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TEST_TODAY = dt.date(2026, 11, 26)
TEST_NOW = dt.datetime.combine(TEST_TODAY, dt.time(10), tzinfo=SHANGHAI)
