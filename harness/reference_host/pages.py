"""User-facing pages: home, the library with 1-10 ratings, the profile and discovery."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from harness.reference_host import media, ratings
from harness.reference_host.auth import safe_next
from harness.reference_host.db import utcnow
from harness.reference_host.plugins import collect, plugin_manager
from harness.reference_host.services import to_host_user

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)

MEDIA_TYPES = ("movies", "shows")
DISCOVERY_LIMIT = 20


@bp.route("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on every first visit: the icon the pages name, not a 404."""
    return send_from_directory(
        current_app.static_folder or "static", "favicon.svg", mimetype="image/svg+xml"
    )


@bp.route("/")
@login_required
def home() -> str:
    return render_template("host/home.html")


@bp.route("/library")
@login_required
def library() -> str:
    query = request.args.get("q", "").strip()
    kind = request.args.get("kind") if request.args.get("kind") in ("movie", "show") else None
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = current_app.config["DEMO_LIBRARY_PAGE_SIZE"]
    items, total = media.search_items(query, kind, page, per_page)
    values = ratings.rating_values(current_user.id, [i.id for i in items])
    pages = max((total + per_page - 1) // per_page, 1)
    return render_template(
        "host/library.html",
        items=items,
        values=values,
        total=total,
        page=page,
        pages=pages,
        q=query,
        kind=kind or "",
    )


@bp.route("/library/<int:item_id>")
@login_required
def item(item_id: int) -> str:
    found = media.get_item(item_id)
    if found is None:
        abort(404)
    children = media.children_of(found)
    values = ratings.rating_values(current_user.id, [found.id] + [c.id for c in children])
    return render_template("host/item.html", item=found, children=children, values=values)


@bp.route("/library/rate", methods=["POST"])
@login_required
def rate() -> Response:
    """One form for Rate and Remove, so each library row needs a single form."""
    item_id = request.form.get("item_id", "")
    found = media.get_item(item_id)
    back = safe_next(request.form.get("next") or url_for("pages.library"))
    if found is None:
        flash("That item is not in the library.", "error")
        return redirect(back)
    if request.form.get("action") == "remove":
        if ratings.remove_rating(current_user.id, found.id, utcnow(), ratings.USER_SOURCE):
            flash(f"Removed your rating of {found.title}.", "success")
        else:
            flash(f"You had not rated {found.title}.", "info")
        return redirect(back)
    value = request.form.get("value", type=int)
    if value is None or not 1 <= value <= 10:
        flash("Pick a rating from 1 to 10.", "error")
        return redirect(back)
    ratings.apply_rating(current_user.id, found.id, value, utcnow(), ratings.USER_SOURCE)
    flash(f"Rated {found.title} {value}/10.", "success")
    return redirect(back)


@bp.route("/settings/profile")
@login_required
def profile() -> str:
    user = to_host_user(current_user)
    sections = plugin_manager().hook.aperture_tpl_profile_sections(user=user)
    rated = ratings.ratings_of(current_user.id)
    return render_template("host/profile.html", sections=sections, rated=rated)


def _candidate(candidate: Any) -> dict[str, Any]:
    """As JSON: the contract's named tuples become objects, not arrays."""
    data = dataclasses.asdict(candidate)
    data["ids"] = candidate.ids._asdict()
    ref = candidate.in_library
    data["in_library"] = {**ref._asdict(), "ids": ref.ids._asdict()} if ref else None
    return data


def discovery_data(user_id: int) -> list[dict[str, Any]]:
    """Each source's candidates per media type; a failing source reports its error."""
    data = []
    for source in collect(plugin_manager(), "aperture_discovery_sources"):
        entry: dict[str, Any] = {
            "id": source.id,
            "label": source.label,
            "scope": source.scope,
            "hide_url": source.hide_url,
            "error": None,
        }
        for media_type in MEDIA_TYPES:
            try:
                entry[media_type] = [
                    _candidate(c) for c in source.fetch(user_id, media_type, DISCOVERY_LIMIT)
                ]
            except Exception as exc:
                log.exception("discovery source %s failed", source.id)
                entry[media_type] = []
                entry["error"] = f"{type(exc).__name__}: {exc}"
        data.append(entry)
    return data


@bp.route("/discover")
@login_required
def discover() -> str:
    return render_template(
        "host/discover.html", sources=discovery_data(current_user.id), media_types=MEDIA_TYPES
    )


@bp.route("/discover.json")
@login_required
def discover_json() -> Response:
    return jsonify({"sources": discovery_data(current_user.id)})
