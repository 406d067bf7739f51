"""Where Trakt is and how long to wait for it: the hosts, the User-Agent, the timeouts and
the waits a configuration may set (``APERTURE_TRAKT_API_URL`` and the rest).

Apart from the client so that reading the configuration (``extension``, at every
process's start) does not import the HTTP stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from aperture_trakt_plugin import __version__
from aperture_trakt_plugin.trakt.rate_limits import DEFAULT_WAIT_RANGE

DEFAULT_API_URL = "https://api.trakt.tv"
DEFAULT_AUTH_URL = "https://auth.trakt.tv"
DEFAULT_USER_AGENT = f"aperture-trakt-plugin/{__version__}"


@dataclass(frozen=True)
class TraktEndpoints:
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 10.0
    wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE
    #: Pauses (seconds, each jittered ±50 %) before retrying a read in the same run after
    #: a passing fault; after the last, the fault goes to the caller (a job reschedules).
    quick_retries: tuple[float, ...] = (1.0, 3.0)
