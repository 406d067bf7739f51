"""Pick-a-user login. The demo has no passwords: who you are is what you click."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from harness.reference_host.db import db
from harness.reference_host.models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Anonymous visitors go to the login page; logged-in non-admins get 403."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "POST":
        user = db.session.scalar(select(User).where(User.name == request.form.get("username")))
        if user is None:
            flash("No such user.", "error")
            return redirect(url_for("auth.login"))
        login_user(user)
        flash(f"Logged in as {user.name}.", "success")
        return redirect(safe_next(request.form.get("next")))
    users = db.session.scalars(select(User).order_by(User.id)).all()
    return render_template("host/login.html", users=users, next=request.args.get("next", ""))


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        logout_user()
        flash("Logged out.", "info")
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)
