"""CSRF protection for the plugin's own forms, whatever the host does.

Flask-WTF's token functions are used directly (not ``CSRFProtect``), so a host that
already runs ``CSRFProtect`` accepts the same ``csrf_token`` field, and a host that
runs nothing still cannot be made to post our forms from another site.
"""

from __future__ import annotations

from flask import abort, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

MSG_FORM_REJECTED = (
    "The form was rejected because its security token is missing or expired. "
    "Reload the page and try again."
)


def token() -> str:
    value: str = generate_csrf()  # Flask-WTF's functions are untyped
    return value


def protect() -> None:
    """A ``before_request`` guard: every state-changing request must carry the token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    submitted = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(submitted)
    except (ValidationError, CSRFError):
        abort(400, description=MSG_FORM_REJECTED)
