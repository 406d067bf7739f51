"""Why ratings do or do not sync, for an admin: the jobs screen's Trakt card, the
confirm-or-dismiss of a sync the mass-removal guard stopped, and the status pages.

Apart from the Integrations card because it answers a different question (is syncing
working for these users?) from a different screen, and reads the diagnosis use case.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request
from markupsafe import Markup
from sqlalchemy import select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import tokens
from aperture_trakt_plugin.host import HostServices
from aperture_trakt_plugin.storage.models import TraktConnection
from aperture_trakt_plugin.usecases import diagnosis, health
from aperture_trakt_plugin.web import csrf
from aperture_trakt_plugin.web.admin import credentials_problem
from aperture_trakt_plugin.web.headers import card_rendered
from aperture_trakt_plugin.web.pages import PROFILE_FALLBACK, render, safe_next


def render_blocked_syncs() -> Markup | None:
    """The jobs screen's Trakt card: the integration's health (shown even before anything
    is set up: that is when an admin most needs to know what is missing), syncs stopped
    by the mass-removal guard (for an admin to confirm), a refusal of the app's
    credentials, and the way to the status page."""
    card_rendered()
    state = extension.state()
    report = health.check(live=False)  # no call to Trakt on a page view
    blocked = (
        state.host.db.session.scalars(
            select(TraktConnection).where(TraktConnection.blocked_reason.is_not(None))
        ).all()
        if report.tables_ready
        else []
    )
    problem = credentials_problem() if report.tables_ready else None
    users = {conn.user_id: state.host.get_user(conn.user_id) for conn in blocked}
    return Markup(
        render(
            "trakt/admin_blocked_syncs.html",
            health=report,
            blocked=blocked,
            users=users,
            credentials_problem=problem,
            csrf_token=csrf.token(),
            next_url=request.path,
        )
    )


def register(bp: Blueprint, host: HostServices) -> None:
    @bp.post("/admin/confirm-sync/<int:user_id>")
    @host.admin_required
    def confirm_sync(user_id: int):  # type: ignore[no-untyped-def]
        """An admin lets a sync that would remove many ratings go ahead, once."""
        from aperture_trakt_plugin.usecases import jobs

        if request.form.get("decision") == "dismiss":
            conn = tokens.store().get(user_id)
            if conn is not None:
                conn.blocked_reason = None
                host.db.session.commit()
        else:
            jobs.enqueue_user_sync(user_id, "confirmed by an admin", force=True)
        return redirect(safe_next(request.form.get("next"), PROFILE_FALLBACK))

    @bp.get("/admin/status")
    @host.admin_required
    def admin_status():  # type: ignore[no-untyped-def]
        """Every connected user's first reason for not syncing, for an admin asked "why"."""
        rows = []
        for user_id in diagnosis.connected_user_ids():
            user = host.get_user(user_id)
            rows.append(
                (user.name if user else f"#{user_id}", diagnosis.diagnose(user_id, for_admin=True))
            )
        return render(
            "trakt/admin_status.html", rows=rows, credentials_problem=credentials_problem()
        )

    @bp.get("/admin/status/<int:user_id>")
    @host.admin_required
    def admin_status_user(user_id: int):  # type: ignore[no-untyped-def]
        user = host.get_user(user_id)
        if user is None:
            abort(404)
        return render(
            "trakt/admin_status_user.html",
            name=user.name,
            diagnosis=diagnosis.diagnose(user_id, for_admin=True),
            credentials_problem=credentials_problem(),
        )
