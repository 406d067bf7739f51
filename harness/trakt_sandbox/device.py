"""The device flow (CONTRACT 4.6): codes, polling with every documented status, /activate.

Polling answers, checked in this order: 404 unknown code, 409 already used, 410 expired,
418 denied, 429 polled sooner than ``interval`` after the previous poll, then 200 with the
tokens once approved, else 400 "pending" with an empty body.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from harness.trakt_sandbox.app_policy import admit_app
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.oauth import (
    OAuthError,
    authenticate_client,
    logged_in_user,
    login_page,
    message_page,
    params,
    token_answer,
)
from harness.trakt_sandbox.protocol import JSON_TYPE, json_response
from harness.trakt_sandbox.state import DeviceCode

bp = Blueprint("device", __name__, template_folder="templates")


def _status(code: int) -> Response:
    return Response(b"", code, content_type=JSON_TYPE)


@bp.post("/oauth/device/code")
def device_code() -> Response:
    try:
        app, _ = authenticate_client(params(), secret_required=False)
    except OAuthError as exc:
        return exc.response()
    device = sandbox().state.new_device_code(app.client_id)
    remaining = round(device.expires_at - sandbox().clock.time())
    return json_response(
        {
            "device_code": device.device_code,
            "user_code": device.user_code,
            "verification_url": request.host_url.rstrip("/") + "/activate",
            "expires_in": remaining,
            "interval": device.interval,
        }
    )


@bp.post("/oauth/device/token")
def device_token() -> Response:
    try:
        data = params()
        app, proved = authenticate_client(data, secret_required=False)
    except OAuthError as exc:
        return exc.response()
    sb = sandbox()
    now = sb.clock.time()
    with sb.state.lock:
        device = sb.state.devices.get(str(data.get("code") or ""))
        if device is None or device.client_id != app.client_id:
            return _status(404)
        if device.status == "used":
            return _status(409)
        if now >= device.expires_at:
            return _status(410)
        if device.status == "denied":
            return _status(418)
        previous, device.last_poll = device.last_poll, now
        if previous is not None and now - previous < device.interval:
            return _status(429)
        if device.status != "approved" or device.username is None:
            return _status(400)
        device.status = "used"
        token = sb.state.issue_token(device.username, app.client_id, public=not proved)
    return token_answer(token)


def decide(device: DeviceCode | None, username: str | None, approve: bool) -> str | None:
    """Approve or deny a pending code; an error message if that is not possible.

    An approval past the user's connected-app cap (``app_policy.py``, ``refuse``) denies
    the code instead, so the device's next poll gets 418.
    """
    sb = sandbox()
    with sb.state.lock:
        if device is None:
            return "unknown code"
        if sb.clock.time() >= device.expires_at:
            return "this code has expired"
        if device.status != "pending":
            return f"this code is already {device.status}"
        refusal = admit_app(sb, username, device.client_id) if approve and username else None
        device.status = "approved" if approve and not refusal else "denied"
        device.username = username.lower() if username else None
    return refusal


@bp.get("/activate")
@bp.get("/activate/<user_code>")
def activate(user_code: str = "") -> Any:
    if logged_in_user() is None:
        return login_page(request.full_path if request.query_string else request.path)
    return render_template(
        "sandbox_activate.html",
        user=logged_in_user(),
        user_code=user_code or request.args.get("code", ""),
    )


@bp.post("/activate")
@bp.post("/activate/<user_code>")
def activate_decide(user_code: str = "") -> Any:
    user = logged_in_user()
    if user is None:
        return login_page(request.path)
    code = request.form.get("user_code", user_code)
    approve = request.form.get("decision") == "approve"
    problem = decide(sandbox().state.device_by_user_code(code), user.username, approve)
    if problem:
        return message_page("Activation failed", problem, 404 if problem == "unknown code" else 400)
    if approve:
        return message_page("Device connected", f"Signed in as {user.username}.", 200)
    return message_page("Device denied", "The device was not connected.", 200)
