"""Cron validation for the jobs screen.

croniter is what rq itself depends on (rq-scheduler's ``crontab`` is only used inside
the scheduler), so the screen accepts exactly the five-field expressions croniter does.
"""

from __future__ import annotations

from croniter import croniter


class CronError(ValueError):
    """An expression the scheduler would not understand."""


def normalise_cron(text: str) -> str | None:
    """Empty means "no schedule"; anything else must be a valid five-field expression."""
    cron = " ".join(text.split())
    if not cron:
        return None
    if len(cron.split(" ")) != 5 or not croniter.is_valid(cron):
        raise CronError(
            f"{cron!r} is not a valid cron expression (five fields: minute hour day month weekday)"
        )
    return cron
