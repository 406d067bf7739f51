"""Importing the plugin's entry point imports none of its heavy dependencies.

Every process of a host imports ``aperture_trakt_plugin.hooks`` at start; what it
costs is measured by ``bench/import_time.py`` (never timed here). What this test keeps
is the reason it is cheap: the libraries that only some processes need, some of the
time, are imported where they are used, so a new top-level import of one of them in a
module the hooks load fails here, naming the chain that brought it in."""

from __future__ import annotations

import json
import subprocess
import sys

#: Imported only where they are used: migrations, OAuth, HTTP calls, Redis and the jobs,
#: and numpy and scipy with the first build of the discovery model (not with the ranking
#: module, which pages import to rank).
NOT_AT_START = (
    "alembic",
    "authlib",
    "requests",
    "redis",
    "rq",
    "rq_scheduler",
    "limits",
    "numpy",
    "scipy",
)

PROGRAM = """
import json, sys
import aperture_trakt_plugin.hooks
import aperture_trakt_plugin.discovery.ranking
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {names!r})))
"""


def test_the_hooks_import_no_heavy_dependency():
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(names=set(NOT_AT_START))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == []
