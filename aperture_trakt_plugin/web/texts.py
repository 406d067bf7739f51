"""The texts the templates show about a problem or a state, as ``MSG_`` constants.

A text a person may need to look up lives here, where
tests/contract/test_docs_troubleshooting.py finds it and checks it is in
docs/troubleshooting.md, and not in the HTML. Every template gets all of them by name
(``pages.render``), so a template never needs to know which module a text came from.
"""

from __future__ import annotations

from aperture_trakt_plugin.trakt.device_flow import MSG_DEVICE_URL_UNTRUSTED  # noqa: F401 (templates)

MSG_APP_REFUSED_NOTE = (
    "Nobody's ratings sync until the Client ID and Client Secret under "
    "Admin → Settings → Setup → Integrations are fixed. Check the app at "
    "https://developer.trakt.tv: Trakt deletes an app when its owner's "
    "VIP lapses or when nobody is connected to it, and a new app then "
    "needs its own Client ID and Client Secret here."
)
MSG_CREATE_APP_HINT = (
    "Create the app at https://developer.trakt.tv. Creating and keeping "
    "an app needs an active Trakt VIP account: Trakt deletes the apps of "
    "owners whose VIP lapsed, and apps nobody is connected to, and a "
    "deleted app's Client ID is refused (403)."
)
MSG_FREE_ACCOUNT_HINT = (
    "A free Trakt account can keep only one connected community app, "
    "and this server is one: a user who connects another app to Trakt "
    "may find this server disconnected (\u201cneeds reconnecting\u201d)."
)
MSG_NOT_SET_UP_CARD = (
    "Trakt is not set up on this server yet. An admin has to add a Trakt "
    "app under Admin → Settings → Setup → Integrations before you can "
    "connect your account."
)
MSG_RECONNECT_CARD = "{reason} Syncing is paused until you reconnect."
MSG_RECONNECT_HELP = (
    "To resume, connect again here. If you use a free Trakt account: "
    "Trakt lets it keep only one connected app, so connecting another app "
    "may have disconnected this server. Disconnect the other app in your "
    "Trakt account's settings (or upgrade to Trakt VIP), then connect again "
    "here."
)
MSG_ACCESS_GONE_CARD = "Trakt no longer accepts this server's access to your account."
MSG_DEVICE_WAITING_UNTIL = (
    "Waiting for you to enter the code on Trakt… (the code expires at {time})"
)
MSG_NEVER_SYNCED = "not synced yet"
MSG_SCHEDULE_OFF = "scheduled syncs are switched off"
MSG_QUEUE_UNKNOWN = "unknown (the job queue could not be reached)"
MSG_UNMATCHED_HINT = "These Trakt ratings are applied here when the title arrives in the library."
MSG_NOT_FOUND_HINT = (
    "Trakt did not recognise these ratings of yours; they are tried again when you change them."
)
MSG_OVER_LIMIT_HINT = (
    "Your Trakt account holds as many ratings as its tier allows; these "
    "stay here and go to Trakt once there is room (remove some ratings "
    "on Trakt, or upgrade to VIP)."
)
MSG_WATCHLIST_NOT_READ = "Not read from Trakt yet; it appears after the next discovery refresh."
MSG_WATCHLIST_EMPTY = "Your Trakt watchlist is empty."
MSG_WATCHLIST_FAILED = "Last read failed: {error}"
MSG_BLOCKED_HINT = (
    "These syncs stopped because they would remove many ratings on this "
    "server. Check with the user, then let the sync go ahead once, or dismiss "
    "it (it stops again at the next run if nothing changed)."
)
MSG_NOBODY_CONNECTED = "Nobody has connected a Trakt account yet."
MSG_HEALTH_HINT = (
    "The same checks as `flask trakt doctor`, without asking Trakt about the credentials; "
    "each problem and its fix are in the plugin's troubleshooting guide."
)
MSG_SET_PUBLIC_URL = (
    "This server's public URL is not configured, so the plugin cannot tell "
    "Trakt where to send users back after they sign in (it never trusts "
    "the address a request claims); until then users connect with a "
    "code. Set the public URL (APERTURE_TRAKT_PUBLIC_URL, or the host's "
    "own setting, such as PUBLIC_BASE_URL on the reference host), then "
    "register the redirect URI shown here at Trakt."
)
