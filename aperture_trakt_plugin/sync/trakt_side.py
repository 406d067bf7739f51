"""The user's Trakt as the sync sees it: every call counted and made with a fresh token,
the ratings read whole or not at all, the writes, and the ratings cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.host import MediaRef
from aperture_trakt_plugin.sync.progress import READING, Progress, no_progress
from aperture_trakt_plugin.sync.result import SyncResult
from aperture_trakt_plugin.sync.settlement import Refusals
from aperture_trakt_plugin.sync.steps import DEFER_OVER
from aperture_trakt_plugin.trakt.answers import UNREADABLE_JSON
from aperture_trakt_plugin.trakt.client import TraktClient
from aperture_trakt_plugin.trakt.errors import MSG_NOT_JSON, MalformedResponse, TraktError
from aperture_trakt_plugin.trakt.paging import Paging, checked_paging
from aperture_trakt_plugin.trakt.ratings import read_ratings
from aperture_trakt_plugin.trakt.wire import TraktRating, ratings_marker, sync_body

#: The 2026 ratings caps (CONTRACT 10, "Account limits, 2026"): ``/users/settings`` has no
#: ratings entry in its ``limits``, so only the tier comes from Trakt.
RATINGS_LIMITS = {False: 10_000, True: 20_000}  # free, VIP
LIMIT_HOLD_KEY = "aperture-trakt:ratings-limit:{user_id}"
LIMIT_HOLD = 24 * 3600  # seconds a refusal by the cap holds its changes back


class TraktSide:
    """The user's Trakt, with every call counted and made with a fresh token.

    ``others_waiting`` (given by a job, None in the foreground) says whether other jobs
    are queued: only then is it worth ending a run early instead of sleeping until the
    user's next write may go."""

    def __init__(
        self,
        user_id: int,
        result: SyncResult,
        others_waiting: Callable[[], bool] | None = None,
        progress: Progress = no_progress,
    ) -> None:
        self.user_id = user_id
        self.result = result
        self.client: TraktClient = oauth.api_client()
        self.others_waiting = others_waiting
        self.progress = progress
        #: Changes Trakt did not take in this run (``settlement.settle``).
        self.refused: Refusals = {}

    def call(self, method: str, path: str, **kw: Any) -> Any:
        def once(token: str) -> Any:
            self.result.api_calls += 1
            return self.client.api(method, path, token=token, user_key=str(self.user_id), **kw)

        return tokens.call_as_user(self.user_id, once)

    def get_json(self, path: str, **kw: Any) -> Any:
        response = self.call("GET", path, **kw)
        try:
            return response.json()
        except UNREADABLE_JSON:
            raise MalformedResponse(MSG_NOT_JSON.format(path=path)) from None

    def marker(self) -> dict[str, str | None]:
        return ratings_marker(self.get_json("/sync/last_activities"))

    def rated_items(self, read_types: list[str]) -> list[TraktRating]:
        """The ratings of these types that the sync can use (see ``trakt.ratings``): one
        call per type unless Trakt decides to page anyway, in which case its headers are
        checked (``checked_paging``) and a type that cannot be read whole and
        consistent fails the run: removals are planned only from a complete read."""
        items: list[TraktRating] = []
        pages_read = 0
        for plural in read_types:
            path = f"/sync/ratings/{plural}"
            what = f"GET {path}"
            response = self.call("GET", path)  # unparameterised: Trakt sends them all
            first: Paging | None = None
            page = 1
            while True:
                content, headers = response.content, response.headers
                del response  # its bytes stay only as long as the reading needs them
                read = read_ratings(content, what)
                del content
                # Checked before the page counts: a type is planned from only when every
                # page of it was read, and its headers agree (page 1 is always read).
                paging = checked_paging(headers, what, page, len(read), first)
                items += read
                pages_read += 1
                pages_left = paging.pages - page if paging else 0
                self.progress(READING, pages_read, pages_read + pages_left)
                if paging is None or page >= paging.pages:
                    break
                first = first or paging
                page += 1
                response = self.call("GET", path, params={"page": page, "limit": first.limit})
        return items

    def write(self, entries: list[tuple[MediaRef, int | None, datetime]], remove: bool) -> Any:
        """One POST (at most ``writes.BATCH`` entries); returns Trakt's answer (None: not JSON,
        which confirms nothing)."""
        path = "/sync/ratings/remove" if remove else "/sync/ratings"
        response = self.call("POST", path, body=sync_body(entries))
        try:
            return response.json()
        except UNREADABLE_JSON:
            return None

    def ratings_limit(self) -> tuple[int, bool]:
        """The account's ratings cap and whether it is VIP's, by the tier
        ``/users/settings`` reports (free when it cannot be read)."""
        try:
            settings = self.get_json("/users/settings")
        except TraktError:
            settings = None
        user = settings.get("user") if isinstance(settings, dict) else None
        vip = isinstance(user, dict) and user.get("vip") is True
        return RATINGS_LIMITS[vip], vip

    def hold_over_limit(self) -> None:
        extension.state().host.redis.set(self._hold_key, 1, ex=LIMIT_HOLD)

    def over_limit_held(self) -> bool:
        return bool(extension.state().host.redis.exists(self._hold_key))

    @property
    def _hold_key(self) -> str:
        return LIMIT_HOLD_KEY.format(user_id=self.user_id)

    def write_wait(self) -> float:
        """Seconds until this user's next write may go (0: now)."""
        return extension.budgets().write_wait(str(self.user_id))

    def should_defer(self) -> bool:
        """Whether the next write is better left to a push queued behind other jobs."""
        if self.others_waiting is None:
            return False
        budgets = extension.budgets()
        wait = budgets.write_wait(str(self.user_id))
        # A wait too long to sleep (a lowered limit, a 429 on writes) is always left to a
        # push scheduled for then, rather than failing a run whose first batch went.
        return wait > DEFER_OVER and (wait > budgets.max_sleep or self.others_waiting())
