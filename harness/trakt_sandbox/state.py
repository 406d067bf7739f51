"""Everything the sandbox remembers, in memory, behind one lock.

Apps, users, tokens, authorization and device codes, and each user's ratings, history,
watchlist, collection and hidden recommendations. Handlers take ``state.lock`` around any
read-modify-write; the GET fast path (discovery) reads only the immutable catalogue.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from harness.trakt_sandbox.clock import Clock, iso, truncate_ms
from harness.trakt_sandbox.media import Catalogue

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REDIRECT_URIS = ("urn:ietf:wg:oauth:2.0:oob",)

# The union of the 2014, 2023 and 2026 shapes of /sync/last_activities (CONTRACT 6.1):
# clients must tolerate extra keys, and every recorded shape then finds its keys here.
ACTIVITY_SHAPE: dict[str, tuple[str, ...]] = {
    "movies": (
        "watched_at",
        "collected_at",
        "rated_at",
        "watchlisted_at",
        "favorited_at",
        "recommendations_at",
        "commented_at",
        "paused_at",
        "hidden_at",
    ),
    "episodes": (
        "watched_at",
        "collected_at",
        "rated_at",
        "watchlisted_at",
        "commented_at",
        "paused_at",
    ),
    "shows": (
        "rated_at",
        "watchlisted_at",
        "favorited_at",
        "recommendations_at",
        "commented_at",
        "hidden_at",
        "dropped_at",
    ),
    "seasons": ("rated_at", "watchlisted_at", "commented_at", "hidden_at"),
    "comments": ("liked_at", "reacted_at", "blocked_at"),
    "lists": ("liked_at", "reacted_at", "updated_at", "commented_at"),
    "watchlist": ("updated_at",),
    "favorites": ("updated_at",),
    "recommendations": ("updated_at",),
    "collaborations": ("updated_at",),
    "account": ("settings_at", "followed_at", "following_at", "pending_at", "requested_at"),
    "saved_filters": ("updated_at",),
    "notes": ("updated_at",),
}

MediaKey = tuple[str, int]


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Sandbox app"
    community: bool = True  # counts against a user's connected-app cap (app_policy.py)

    def as_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "name": self.name,
            "community": self.community,
        }


@dataclass
class Activities:
    """Per-user change timestamps; every write moves its keys and ``all``, strictly."""

    values: dict[str, dict[str, datetime]]
    all: datetime

    @classmethod
    def starting(cls, moment: datetime) -> Activities:
        return cls(
            {group: dict.fromkeys(keys, moment) for group, keys in ACTIVITY_SHAPE.items()}, moment
        )

    def touch(self, now: datetime, *paths: str) -> None:
        """Move ``group.key`` paths to now, at least 1 ms past ``all`` so they always move."""
        moment = max(truncate_ms(now), self.all + timedelta(milliseconds=1))
        for path in paths:
            group, key = path.split(".")
            self.values[group][key] = moment
        self.all = moment

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"all": iso(self.all)}
        for group, keys in self.values.items():
            body[group] = {key: iso(moment) for key, moment in keys.items()}
        return body


@dataclass
class Rated:
    rating: int
    rated_at: datetime


@dataclass
class Play:
    id: int
    key: MediaKey  # a movie or an episode
    watched_at: datetime | None  # None: watched at an unknown time
    action: str = "watch"


@dataclass
class Listed:
    id: int
    listed_at: datetime
    notes: str | None = None


@dataclass
class User:
    username: str
    joined_at: datetime
    name: str = ""
    vip: bool = False
    locked: bool = False
    deactivated: bool = False
    private: bool = False
    activities: Activities = field(init=False)
    ratings: dict[MediaKey, Rated] = field(default_factory=dict)
    history: list[Play] = field(default_factory=list)
    watchlist: dict[MediaKey, Listed] = field(default_factory=dict)
    collection: dict[MediaKey, datetime] = field(default_factory=dict)
    hidden: dict[MediaKey, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.activities = Activities.starting(self.joined_at)
        self.name = self.name or self.username.replace("_", " ").title()

    @property
    def slug(self) -> str:
        return self.username.lower()

    def flags(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "name": self.name,
            "vip": self.vip,
            "locked": self.locked,
            "deactivated": self.deactivated,
            "private": self.private,
        }


@dataclass
class Token:
    access_token: str
    refresh_token: str
    username: str
    client_id: str
    created_at: int
    expires_in: int
    public: bool = False  # issued to a PKCE client without a secret
    revoked: bool = False
    refreshed: bool = False  # its refresh token was spent (single use)

    @property
    def expires_at(self) -> int:
        return self.created_at + self.expires_in

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": "public",
            "created_at": self.created_at,
        }


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    username: str
    expires_at: float
    challenge: str | None = None
    used: bool = False


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    expires_at: float
    interval: int
    status: str = "pending"  # pending | approved | denied | used
    username: str | None = None
    last_poll: float | None = None


class IssuedSecrets:
    """Every secret the sandboxes of this process issued or were shown, across resets.

    A test's world is reset before the next test, but a log written during that test may
    still hold its tokens: the end-of-run log scan (``tests/log_secrets.py``) needs every
    value ever handed out, so this journal is process-wide and ``reset()`` never clears
    it. Values are unique; the first kind recorded for a value wins.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, str] = {}

    def record(self, kind: str, value: str | None) -> None:
        if value:
            with self._lock:
                self._kinds.setdefault(value, kind)

    def entries(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"kind": kind, "value": value} for value, kind in self._kinds.items()]


ISSUED_SECRETS = IssuedSecrets()


class SandboxState:
    """The mutable world of one sandbox app; ``reset()`` returns it to the start."""

    def __init__(self, clock: Clock, catalogue: Catalogue, config: dict[str, Any]) -> None:
        self.clock = clock
        self.catalogue = catalogue
        self.config = config
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.apps: dict[str, App] = {}
            self.users: dict[str, User] = {}
            self.tokens: dict[str, Token] = {}
            self.refresh_tokens: dict[str, Token] = {}
            self.codes: dict[str, AuthCode] = {}
            self.devices: dict[str, DeviceCode] = {}
            self.user_codes: dict[str, DeviceCode] = {}
            self._next_id = {"history": 1_000_000_001, "list": 500_000_001}
            extra = [
                u.strip()
                for u in str(self.config.get("SANDBOX_REDIRECT_URIS") or "").split(",")
                if u.strip()
            ]
            # The built-in app stands for an official one: no user's app cap counts it.
            self.add_app(
                DEFAULT_CLIENT_ID,
                DEFAULT_CLIENT_SECRET,
                [*DEFAULT_REDIRECT_URIS, *extra],
                community=False,
            )

    def next_id(self, sequence: str) -> int:
        value = self._next_id[sequence]
        self._next_id[sequence] = value + 1
        return value

    # -- apps and users ------------------------------------------------------------------
    def add_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        name: str = "Sandbox app",
        community: bool = True,
    ) -> App:
        with self.lock:
            app = App(client_id, client_secret, list(redirect_uris), name, community)
            ISSUED_SECRETS.record("client secret", client_secret)
            self.apps[client_id] = app
            return app

    def user(self, username: str) -> User | None:
        return self.users.get(username.lower())

    def ensure_user(self, username: str, **flags: Any) -> User:
        """Create a user (or update its flags): tests and the login form both need this."""
        with self.lock:
            user = self.users.get(username.lower())
            if user is None:
                user = User(username=username, joined_at=truncate_ms(self.clock.now()))
                self.users[username.lower()] = user
            for key in ("name", "vip", "locked", "deactivated", "private"):
                if key in flags and flags[key] is not None:
                    setattr(user, key, flags[key])
            return user

    # -- tokens --------------------------------------------------------------------------
    def issue_token(
        self, username: str, client_id: str, public: bool = False, expires_in: int | None = None
    ) -> Token:
        with self.lock:
            ttl = int(expires_in if expires_in is not None else self.config["SANDBOX_TOKEN_TTL"])
            token = Token(
                secrets.token_hex(32),
                secrets.token_hex(32),
                username.lower(),
                client_id,
                int(self.clock.time()),
                ttl,
                public=public,
            )
            self.tokens[token.access_token] = token
            self.refresh_tokens[token.refresh_token] = token
            ISSUED_SECRETS.record("access token", token.access_token)
            ISSUED_SECRETS.record("refresh token", token.refresh_token)
            return token

    def valid_token(self, access_token: str) -> Token | None:
        """A token that is known, unrevoked and not past ``created_at + expires_in``."""
        token = self.tokens.get(access_token)
        if token is None or token.revoked or self.clock.time() >= token.expires_at:
            return None
        return token

    def new_code(
        self, client_id: str, redirect_uri: str, username: str, challenge: str | None
    ) -> AuthCode:
        with self.lock:
            code = AuthCode(
                secrets.token_hex(32),
                client_id,
                redirect_uri,
                username.lower(),
                self.clock.time() + int(self.config["SANDBOX_CODE_TTL"]),
                challenge,
            )
            self.codes[code.code] = code
            ISSUED_SECRETS.record("authorization code", code.code)
            return code

    def new_device_code(self, client_id: str) -> DeviceCode:
        with self.lock:
            alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            user_code = "".join(secrets.choice(alphabet) for _ in range(8))
            device = DeviceCode(
                secrets.token_hex(32),
                user_code,
                client_id,
                self.clock.time() + int(self.config["SANDBOX_DEVICE_TTL"]),
                int(self.config["SANDBOX_DEVICE_INTERVAL"]),
            )
            self.devices[device.device_code] = device
            self.user_codes[user_code] = device
            ISSUED_SECRETS.record("device code", device.device_code)
            return device

    def device_by_user_code(self, user_code: str) -> DeviceCode | None:
        return self.user_codes.get(user_code.strip().upper().replace("-", ""))

    # -- user data -----------------------------------------------------------------------
    def watch_count(self, user: User) -> dict[MediaKey, int]:
        """Plays per movie or episode (used by watched lists and recommendations)."""
        counts: dict[MediaKey, int] = {}
        for play in user.history:
            counts[play.key] = counts.get(play.key, 0) + 1
        return counts
