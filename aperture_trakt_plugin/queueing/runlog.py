"""One structured log line per user run of a job, for the tools admins read logs with.

The format is logfmt (``key=value`` pairs separated by spaces): a person can read it as
it is, and log shippers (Vector, Loki, Fluent Bit …) parse it without configuration.
The keys are fixed, so a dashboard can count outcomes and API calls per job. The same
fields travel as ``record.trakt_run`` for JSON formatters.

A line holds only ids, counts, durations and words the plugin chose itself, never a
token, a title or a message from Trakt: error messages can quote a request, and titles
are the user's data.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("aperture_trakt_plugin.runs")


def user_run(
    job: str,
    user_id: int,
    outcome: str,
    started: float,
    api_calls: int | None = None,
    **details: int | str,
) -> None:
    """Logs a finished user run; ``started`` is a ``time.monotonic()`` reading;
    ``details`` are counts, or an error's class name (never its message)."""
    fields: dict[str, object] = {"job": job, "user": user_id, "outcome": outcome, **details}
    if api_calls is not None:
        fields["api_calls"] = api_calls
    fields["ms"] = round((time.monotonic() - started) * 1000)
    log.info(
        " ".join(f"{key}={value}" for key, value in fields.items()), extra={"trakt_run": fields}
    )
