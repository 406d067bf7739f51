"""``/sync/last_activities``: the cheap first call of every pull (CONTRACT 6.1)."""

from __future__ import annotations

from flask import Blueprint, Response

from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.protocol import current_user, json_response, user_required

bp = Blueprint("sync_activities", __name__)


@bp.get("/sync/last_activities")
@user_required
def last_activities() -> Response:
    with sandbox().state.lock:
        return json_response(current_user().activities.as_json())
