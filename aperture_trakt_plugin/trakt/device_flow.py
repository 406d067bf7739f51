"""The device flow (CONTRACT 4.6): a code the person enters on Trakt, then polls until
Trakt says it was entered, refused, used or expired. It connects a server that has no
public URL for Trakt to send a browser back to, and replaced the PIN page Trakt retired.

Trakt's answer names the page to send the person to; it is checked to be Trakt's
before it becomes a link, since a link elsewhere would carry the person, code in hand,
wherever a compromised path pointed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import requests

from aperture_trakt_plugin.trakt.answers import firewall_error, json_or_none, redirect_error
from aperture_trakt_plugin.trakt.errors import InvalidClient, TraktServerError, TraktUnreachable
from aperture_trakt_plugin.trakt.oauth import TokenPair, TraktOAuth, is_text, is_whole

# What the device flow says to a person (docs/troubleshooting.md lists each with its
# cause and fix).
MSG_DEVICE_CODE_INCOMPLETE = "Trakt's device-code answer was incomplete"
MSG_DEVICE_URL_UNTRUSTED = (
    "Trakt's answer named a page for entering the code that is not "
    "on Trakt, so no link is shown. Type https://trakt.tv/activate "
    "into your browser yourself and enter this code:"
)
MSG_DEVICE_INVALID = "Trakt does not know this code any more. Start connecting again."
MSG_DEVICE_USED = "This code was already used. Start connecting again if you are not connected."
MSG_DEVICE_EXPIRED = "The code expired before it was entered on Trakt. Start connecting again."
MSG_DEVICE_DENIED = "Access was denied on Trakt; nothing was connected."
MSG_DEVICE_WAITING = "Waiting for you to enter the code on Trakt…"
MSG_DEVICE_NOT_REACHED = "Checking the device code: could not reach Trakt ({reason})"
MSG_DEVICE_NOT_JSON = "Trakt's device-token answer was not JSON"
MSG_DEVICE_CLIENT_REFUSED = (
    "Checking the device code: Trakt rejected this server's app "
    "credentials; an admin must check them"
)
MSG_DEVICE_STATUS = "Checking the device code: Trakt answered {status}"


#: Where Trakt sends people to enter a device code (its answer says
#: ``https://trakt.tv/activate``); the configured auth host is trusted as well.
TRAKT_ACTIVATION_HOSTS = frozenset({"trakt.tv", "www.trakt.tv", "auth.trakt.tv", "api.trakt.tv"})
USER_CODE_MAX = 32  # the column's size; Trakt's codes have 8 characters


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    #: "" when Trakt's answer named a page that is not Trakt's: shown without a link.
    verification_url: str
    expires_in: int
    interval: int


def trusted_verification_url(url: object, auth_url: str) -> str:
    """``url`` if it is a page on Trakt people may be sent to, else "". Anything else
    (``javascript:``, a look-alike host, ``http`` where the auth host is https, user info
    to disguise the host) came from a compromised path, and a link would send the
    person, their code in hand, wherever it points."""
    if not isinstance(url, str) or len(url) > 512 or not url.isprintable() or " " in url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return ""
    if parts.username is not None or parts.password is not None or not host:
        return ""
    auth = urlsplit(auth_url)
    if (parts.scheme, parts.netloc.lower()) == (auth.scheme, auth.netloc.lower()):
        return url
    if parts.scheme == "https" and host in TRAKT_ACTIVATION_HOSTS and parts.port in (None, 443):
        return url
    return ""


def start(oauth: TraktOAuth) -> DeviceCode:
    data = oauth.client.oauth(
        "/oauth/device/code",
        {"client_id": oauth.credentials.client_id},
        what="Starting the device connection",
    )
    fields = data if isinstance(data, dict) else {}
    device_code, user_code, url = (
        fields.get(name) for name in ("device_code", "user_code", "verification_url")
    )
    numbers = [fields.get(name) for name in ("expires_in", "interval")]
    # A verification URL that is not Trakt's (or not text) is shown without a link.
    if not (
        is_text(device_code)
        and is_text(user_code)
        and all(is_whole(value, 1, DEVICE_MOST_SECONDS) for value in numbers)
        and user_code.isalnum()
        and len(user_code) <= USER_CODE_MAX
    ):
        raise TraktServerError(MSG_DEVICE_CODE_INCOMPLETE)
    return DeviceCode(
        device_code,
        user_code,
        trusted_verification_url(url, oauth.endpoints.auth_url),
        *cast(list[int], numbers),  # both checked whole just above
    )


#: A device code's lifetime and poll interval are minutes (600 s and 5 s at Trakt); a
#: day at most, so a hostile interval cannot park the flow for years.
DEVICE_MOST_SECONDS = 86400


#: What a device-token poll can say, with what the caller should do (CONTRACT 4.6).
DEVICE_PENDING, DEVICE_SLOW_DOWN = "pending", "slow_down"
DEVICE_DONE = "done"
DEVICE_FINAL = {
    404: ("invalid", MSG_DEVICE_INVALID),
    409: ("used", MSG_DEVICE_USED),
    410: ("expired", MSG_DEVICE_EXPIRED),
    418: ("denied", MSG_DEVICE_DENIED),
}


@dataclass(frozen=True)
class DevicePoll:
    status: str
    message: str = ""
    tokens: TokenPair | None = None


def poll(oauth: TraktOAuth, device_code: str) -> DevicePoll:
    credentials, endpoints = oauth.credentials, oauth.endpoints
    try:
        response = oauth.session.post(
            endpoints.auth_url + "/oauth/device/token",
            timeout=endpoints.timeout,
            allow_redirects=False,
            json={
                "code": device_code,
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            },
            headers={"User-Agent": endpoints.user_agent},
        )
    except requests.RequestException as exc:
        raise TraktUnreachable(MSG_DEVICE_NOT_REACHED.format(reason=type(exc).__name__)) from None
    blocked = firewall_error(response, "Checking the device code") or redirect_error(
        response, "Checking the device code"
    )
    if blocked is not None:  # before the statuses: a firewall 403 is not a final answer
        raise blocked
    if response.status_code == 200:
        data = json_or_none(response)
        if data is None:
            raise TraktServerError(MSG_DEVICE_NOT_JSON)
        return DevicePoll(DEVICE_DONE, tokens=TokenPair.from_response(data))
    if response.status_code == 400:
        return DevicePoll(DEVICE_PENDING, MSG_DEVICE_WAITING)
    if response.status_code == 429:
        return DevicePoll(DEVICE_SLOW_DOWN, MSG_DEVICE_WAITING)
    if response.status_code in DEVICE_FINAL:
        status, message = DEVICE_FINAL[response.status_code]
        return DevicePoll(status, message)
    if response.status_code == 401:
        raise InvalidClient(MSG_DEVICE_CLIENT_REFUSED)
    raise TraktServerError(MSG_DEVICE_STATUS.format(status=response.status_code))
