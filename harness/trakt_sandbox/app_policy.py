"""Trakt's app policy of 2026 (CONTRACT 4.1, checklist 16).

* **Deleted apps.** Trakt deletes the apps of owners whose VIP lapsed and apps without a
  signed-in user. ``DELETE /_sandbox/apps/<client_id>`` does the same here: its key then
  gets the application's JSON 403 on the API and ``invalid_client`` on the auth host, and
  the grants it held are revoked.
* **Connected community apps.** A free account may connect one community app, VIP 50
  (the ``apps`` cap of ``account_limits.py``); official apps do not count, and the
  sandbox's built-in ``sandbox-client-id`` is one (``"community": false``; apps added
  through ``POST /_sandbox/apps`` are community apps unless they say otherwise). What
  Trakt does at the cap is not settled, so the behaviour ``app_limit`` picks:
  ``refuse`` (default, as announced): authorizing a further app fails (the authorize
  redirect carries ``error=access_denied`` [unverified], a device code is denied, 418);
  ``revoke`` (as a client author saw): the new app is connected and the oldest other
  app's grant is revoked, so it gets 401 on the API and ``invalid_grant`` on refresh.

A grant is live while the user holds a token of the app that is neither revoked nor
spent by a refresh. Control-issued tokens (``/_sandbox/users/<name>/tokens``) count as
grants but are not checked: only OAuth authorization (consent page, device approval) is.
"""

from __future__ import annotations

from harness.trakt_sandbox.context import Sandbox

MSG_TOO_MANY_APPS = "this account has reached its limit of connected apps"


def connected_apps(sb: Sandbox, username: str) -> dict[str, int]:
    """Community apps with a live grant of this user -> when the oldest live token began."""
    apps: dict[str, int] = {}
    for token in sb.state.tokens.values():
        app = sb.state.apps.get(token.client_id)
        if (
            token.username != username.lower()
            or token.revoked
            or token.refreshed
            or app is None
            or not app.community
        ):
            continue
        apps[token.client_id] = min(apps.get(token.client_id, token.created_at), token.created_at)
    return apps


def revoke_grants(sb: Sandbox, username: str | None, client_id: str) -> None:
    """Revoke every token of ``client_id`` (of one user, or of everyone)."""
    for token in sb.state.tokens.values():
        if token.client_id == client_id and username in (None, token.username):
            token.revoked = True


def admit_app(sb: Sandbox, username: str, client_id: str) -> str | None:
    """Let ``username`` authorize ``client_id``; a refusal message if the cap forbids it."""
    app = sb.state.apps.get(client_id)
    user = sb.state.user(username)
    if app is None or user is None or not app.community:
        return None
    with sb.state.lock:
        others = connected_apps(sb, username)
        others.pop(client_id, None)
        room = sb.account_limits.cap("apps", user) - 1
        if len(others) <= room:
            return None
        if sb.behaviour["app_limit"] == "refuse":
            return MSG_TOO_MANY_APPS
        for oldest in sorted(others, key=others.__getitem__)[: len(others) - max(room, 0)]:
            revoke_grants(sb, user.username, oldest)
    return None


def delete_app(sb: Sandbox, client_id: str) -> bool:
    """Remove an app as Trakt deletes one; False if there was none."""
    with sb.state.lock:
        if sb.state.apps.pop(client_id, None) is None:
            return False
        revoke_grants(sb, None, client_id)
    return True
