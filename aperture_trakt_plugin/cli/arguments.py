"""What several commands take from the admin in the same way: a server user by name, and
a secret kept off argv.

Shared here so that ``--user`` means the same everywhere and both secret options
(``settings set --client-secret``, ``rotate-keys --old-secret-key``) give the same
warning and take the same sentinel for a bare option.
"""

from __future__ import annotations

import click

from aperture_trakt_plugin import extension

#: Both secret options (``settings set --client-secret``, ``rotate-keys --old-secret-key``)
#: take a hidden prompt (the option alone), standard input (``-``) or an environment variable.
MSG_SECRET_ON_ARGV = (
    "warning: a secret on the command line is visible to other users "
    "(ps) and kept in shell history; next time give the option alone "
    "(hidden prompt), - (standard input) or ${env} instead"
)
MSG_NO_SUCH_USER = "no user named {name!r} on this server"
PROMPT = "\0prompt"  # what a bare secret option stands for; no real secret is this
FROM_STDIN = "-"


def user_id(name: str) -> int:
    user = extension.state().host.get_user_by_name(name)
    if user is None:
        raise click.ClickException(MSG_NO_SUCH_USER.format(name=name))
    return user.id
