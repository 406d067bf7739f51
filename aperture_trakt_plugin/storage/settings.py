"""Admin settings: what they are, how they are saved, and how they are shown.

The rules that matter here come from upstream bugs: a secret is write-only (shown as
"set", and an empty or untouched submission keeps it), a form never sends back a
masked value that could be saved over the real one, and pasted values lose the
spaces and line breaks that copying from a web page adds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aperture_trakt_plugin.storage.models import TraktSetting

OOB_REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    secret: bool = False
    hint: int = 0  # trailing characters a masked view may show, to tell apps apart


CLIENT_ID = SettingSpec("client_id", "Client ID", secret=True, hint=4)
CLIENT_SECRET = SettingSpec("client_secret", "Client Secret", secret=True)
REDIRECT_URI = SettingSpec("redirect_uri", "Redirect URI")
SETTINGS: tuple[SettingSpec, ...] = (CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
_BY_KEY = {spec.key: spec for spec in SETTINGS}

_WHITESPACE = re.compile(r"\s+")
#: Not a setting an admin enters: why Trakt last refused the app's credentials (403 or
#: ``invalid_client`` during a job), kept in the same table until they work again.
PROBLEM_KEY = "_credentials_problem"
PROBLEM_PREFIX = "Invalid credentials"
#: How a refusal recorded during a job reads on every admin card (``{reason}``: the
#: refusal, e.g. ``trakt.errors.MSG_CLIENT_ID_REFUSED``).
MSG_CREDENTIALS_PROBLEM = PROBLEM_PREFIX + ": {reason}"


def clean(value: str | None) -> str:
    """Pasted credentials never contain white space; any that is there came with the paste."""
    return _WHITESPACE.sub("", value or "")


def mask(secret: str | None, hint: int = 0) -> str:
    if not secret:
        return "not set"
    if hint and len(secret) > 4 * hint:
        return f"set, ending \u2026{secret[-hint:]}"
    return "set"


class SettingsStore:
    """Reads and writes ``trakt_settings`` through the host's session."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def _row(self, key: str) -> TraktSetting | None:
        row: TraktSetting | None = self.db.session.get(TraktSetting, key)
        return row

    def get(self, key: str) -> str | None:
        spec = _BY_KEY[key]
        row = self._row(key)
        if row is None:
            return None
        return row.secret if spec.secret else row.value

    def values(self) -> dict[str, str | None]:
        rows = {row.key: row for row in self.db.session.query(TraktSetting).all()}
        return {
            spec.key: (
                getattr(rows[spec.key], "secret" if spec.secret else "value")
                if spec.key in rows
                else None
            )
            for spec in SETTINGS
        }

    def masked(self) -> dict[str, str | None]:
        """What may be shown: credentials become "set"/"not set", never their value."""
        return {
            key: mask(value, _BY_KEY[key].hint) if _BY_KEY[key].secret else value
            for key, value in self.values().items()
        }

    def is_configured(self) -> bool:
        values = self.values()
        return bool(values["client_id"] and values["client_secret"])

    def merge_submission(
        self, client_id: str | None, client_secret: str | None, redirect_uri: str | None
    ) -> dict[str, str | None]:
        """The values a form or CLI submission means: an empty credential keeps the stored one."""
        current = self.values()
        return {
            "client_id": clean(client_id) or current["client_id"],
            "client_secret": clean(client_secret) or current["client_secret"],
            "redirect_uri": clean(redirect_uri) or None,
        }

    def credentials_problem(self) -> str | None:
        row = self._row(PROBLEM_KEY)
        return row.value if row is not None else None

    def set_credentials_problem(self, message: str | None) -> None:
        """Records (or, with None, clears) why Trakt refuses the app's credentials, led by
        "Invalid credentials" so every card shows it in the same words."""
        row = self._row(PROBLEM_KEY)
        if message is None:
            if row is not None:
                self.db.session.delete(row)
                self.db.session.commit()
            return
        if not message.startswith(PROBLEM_PREFIX):
            message = MSG_CREDENTIALS_PROBLEM.format(reason=message)
        row = row or TraktSetting(key=PROBLEM_KEY)
        row.value, row.secret = message, None
        self.db.session.add(row)
        self.db.session.commit()

    def save(self, values: dict[str, str | None], user_id: int | None) -> None:
        for key, value in values.items():
            spec = _BY_KEY[key]
            row = self._row(key) or TraktSetting(key=key)
            if spec.secret:
                row.secret, row.value = value, None
            else:
                row.value, row.secret = value, None
            row.updated_by = user_id
            self.db.session.add(row)
        if "client_id" in values or "client_secret" in values:
            problem = self._row(PROBLEM_KEY)  # new credentials: the old refusal is moot
            if problem is not None:
                self.db.session.delete(problem)
        self.db.session.commit()
