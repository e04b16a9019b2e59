"""Durations and moments as staff write them, and as students read them.

Durations are written as whole numbers with units, largest first: "90s",
"15m", "2h", "1d", "1d12h", "1h30m"; "0" means none. Moments are ISO 8601
("2025-02-13T23:59:00+01:00"); one written without an offset is read in the
course's time zone. A bare date is refused for a deadline: "2025-02-13" could
mean its first or its last minute, and a student must never have to guess.
"""

from __future__ import annotations

import datetime as dt
import re

from grader.core.validate import Where

_DURATION = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_DURATION_RULE = 'a duration like "15m", "2h", "1d" or "1h30m" (d, h, m, s: days, hours, minutes, seconds)'
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_MOMENT_RULE = 'a date and time like "2025-02-13T23:59:00+01:00" (without an offset: in the course\'s time zone)'


def parse_duration(value: object, where: Where) -> dt.timedelta:
    """Read a duration such as "15m" or "1d12h"; raise SpecError at where otherwise."""
    if value == 0 or value == "0":
        return dt.timedelta(0)
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or not any(match.groupdict().values()):
        raise where.expected(_DURATION_RULE, value)
    seconds = sum(int(match.group(unit) or 0) * size for unit, size in _UNITS)
    return dt.timedelta(seconds=seconds)


def parse_moment(value: object, where: Where, tz: dt.tzinfo) -> dt.datetime:
    """Read a date and time (a YAML timestamp or ISO text); naive ones are in tz."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        raise where.error(
            f"{value.isoformat()} is a date without a time; write the exact moment, "
            f'like "{value.isoformat()}T23:59:00" (in the course\'s time zone) or with an offset'
        )
    moment = value
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise where.expected(_MOMENT_RULE, value) from None
    if not isinstance(moment, dt.datetime):
        raise where.expected(_MOMENT_RULE, value)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def aware(moment: dt.datetime) -> dt.datetime:
    """Return moment with a zone; a naive one is UTC (the database stores UTC, SQLite drops the zone)."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def format_duration(span: dt.timedelta) -> str:
    """Return span exactly as a student reads it: "2 h 10 min", "1 d 5 min", "15 min 1 s"."""
    seconds = int(abs(span).total_seconds())
    parts = []
    for name, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {name}")
    return " ".join(parts) or "0 s"


def format_moment(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """Return moment in the course's time zone: "13 Feb 2025 23:59 CET"."""
    local = aware(moment).astimezone(tz)
    text = local.strftime("%d %b %Y %H:%M").lstrip("0")
    if local.second:
        text += local.strftime(":%S")
    return f"{text} {local.tzname()}"
