"""The pieces one sandbox app is made of, and how a handler reaches them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

from harness.trakt_sandbox.behaviour import Behaviour
from harness.trakt_sandbox.clock import Clock
from harness.trakt_sandbox.faults import Faults
from harness.trakt_sandbox.media import Catalogue
from harness.trakt_sandbox.ratelimit import RateLimiter
from harness.trakt_sandbox.requestlog import RequestLog
from harness.trakt_sandbox.state import SandboxState

if TYPE_CHECKING:  # account_limits answers through protocol, which needs this module
    from harness.trakt_sandbox.account_limits import AccountLimits

EXTENSION = "trakt_sandbox"


@dataclass
class Sandbox:
    config: dict[str, Any]
    clock: Clock
    catalogue: Catalogue
    state: SandboxState
    limiter: RateLimiter
    faults: Faults
    log: RequestLog
    behaviour: Behaviour
    account_limits: AccountLimits


def sandbox() -> Sandbox:
    return current_app.extensions[EXTENSION]
