"""The outcome of a post, kept for the card it came from, and only for the user it is about.

The outcome is kept in the session under the plugin's own key, so the card shows it in
place whatever the host does with Flask's flashed messages. The browser's session
outlives a logout, so every notice is tagged with its user and dropped for anyone else.
"""

from __future__ import annotations

from typing import Any

from flask import flash, request, session

from aperture_trakt_plugin import extension

NOTICE_KEY = "aperture_trakt.notice"
FLASH_CARD = "flash"  # a notice for the host's flashed messages, not for one of our cards


def _current_user_id() -> int | None:
    user = extension.state().host.current_user()
    return user.id if user else None


def notice(card: str, level: str, message: str, **extra: Any) -> None:
    """Keeps the outcome for the card to show, tagged with the user it is about: the
    browser's session outlives a logout, and the next person on it must not see it."""
    session[NOTICE_KEY] = {
        "card": card,
        "level": level,
        "message": message,
        "user_id": _current_user_id(),
        **extra,
    }


def pop_notice(card: str) -> dict[str, Any] | None:
    # A dict: ``drop_foreign_notice`` drops anything else before each request.
    kept: dict[str, Any] | None = session.get(NOTICE_KEY)
    if kept and kept.get("card") == card and kept.get("user_id") == _current_user_id():
        session.pop(NOTICE_KEY, None)
        return kept
    return None


def forget_other_users_state() -> None:
    """``before_app_request``: a notice that belongs to someone else than whoever is
    signed in now (after a logout, or another login on the same browser) is dropped
    before anything can show it. A hide's outcome is handed to the host's flashed
    messages here, on the next page the same user opens, so it cannot wait in the
    session for the next user either. (A Trakt sign-in under way stays: its callback
    says "started by another user", which is clearer than a silent drop.)"""
    kept = session.get(NOTICE_KEY)
    if kept is None:
        return
    if not isinstance(kept, dict) or kept.get("user_id") != _current_user_id():
        session.pop(NOTICE_KEY, None)
    elif kept.get("card") == FLASH_CARD and request.method == "GET":
        session.pop(NOTICE_KEY, None)
        flash(kept["message"], kept["level"])
