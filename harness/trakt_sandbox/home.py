"""The sandbox's front page: who can sign in, and where the demo's pages are."""

from __future__ import annotations

from flask import Blueprint, render_template

from harness.trakt_sandbox.context import sandbox

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    users = sorted(sandbox().state.users.values(), key=lambda u: u.username)
    return render_template(
        "sandbox_home.html", users=users, apps=list(sandbox().state.apps.values())
    )
