"""docs/install.md, followed by a new admin: the test runs the doc's own shell blocks.

Issue 8's acceptance: an admin following only docs/ installs the plugin into the
reference host from a built wheel in a fresh virtualenv, runs the migrations,
configures Trakt (the sandbox), connects a user and sees ratings sync. So the commands
are not copied here: they are read from the fenced ``sh`` blocks that the doc marks with
``<!-- docs-test: KIND NAME -->``, and run verbatim in ``bash``. Changing a command in
the doc changes what this test runs; removing or renaming a marked block fails it.

Kinds: ``values`` is the block of site-specific values (paths, ports, URLs); the test
supplies its own values for exactly the names that block exports. ``env`` is the "in
every terminal" block; like a terminal session, it is run before every later block.
``run NAME`` blocks run in the order below. ``connect`` and ``serve`` wait for a person
or run until stopped, so the test starts them in the background and does what the
person would (enter the code at Trakt; open the pages).

What stands in for the outside world: the Trakt sandbox of the test session stands in
for trakt.tv (the doc's "start the sandbox" block is the same server, started by the
fixture on a free port), and its control API stands in for the user's clicks there.
Everything on the server side is the built wheel in a new virtualenv, never this
checkout: the test copies the checkout (as a fresh clone would be) and checks where
``aperture_trakt_plugin`` is imported from.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from harness.services import REPO, free_port, wait_for_port
from tests.connect_helpers import sandbox_settings
from tests.fixtures_host import csrf_token_from

DOC = REPO / "docs" / "install.md"
#: The marked blocks of the trial, in the order the doc gives them. The test runs them
#: in this order; the doc must hold exactly these.
TRIAL = [
    "build",
    "install",
    "host",
    "keys",
    "migrate",
    "show",
    "configure",
    "connect",
    "rate",
    "trakt-side",
    "pull",
    "serve",
    "uninstall",
    "drop-in",
    "drop-in-check",
]
CLIENT_ID, CLIENT_SECRET = "docs-trial-client-id", "docs-trial-client-secret"
OOB = "urn:ietf:wg:oauth:2.0:oob"
MARKER = re.compile(r"<!-- docs-test: (\w+)(?: ([\w-]+))? -->\n```sh\n(.*?)```", re.S)
EXPORTED = re.compile(r"^export (\w+)=", re.M)
#: Directories never copied into the "fresh checkout": environments, build output, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    ".demo",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)


@dataclass(frozen=True)
class Block:
    kind: str
    name: str
    script: str


def doc_blocks(path: Path = DOC) -> list[Block]:
    """The marked ``sh`` blocks of the doc, in order."""
    return [
        Block(kind, name or kind, script) for kind, name, script in MARKER.findall(path.read_text())
    ]


class Trial:
    """The admin's terminal: values exported, the ``env`` block before every command."""

    def __init__(self, blocks: list[Block], values: dict[str, str], log_dir: Path) -> None:
        self.blocks = {b.name: b for b in blocks}
        self.values = values
        self.log_dir = log_dir
        self.env_script = ""

    def environ(self) -> dict[str, str]:
        """A clean login-like environment: no virtualenv of the test run on the PATH, so
        ``python3`` is the machine's and ``flask`` only exists once the doc activates."""
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("APERTURE_", "FLASK_", "SANDBOX_", "PYTHON"))
            and k
            not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PUBLIC_BASE_URL"}
        }
        venv_bin = str(Path(sys.prefix) / "bin")
        inherited["PATH"] = os.pathsep.join(
            p for p in inherited.get("PATH", "").split(os.pathsep) if p and p != venv_bin
        )
        return {**inherited, **self.values}

    def script(self, name: str) -> str:
        block = self.blocks[name]
        prelude = self.env_script if block.kind != "values" else ""
        return "set -euo pipefail\n" + prelude + block.script

    def run(self, name: str, timeout: float = 120) -> str:
        """Runs one block to the end; fails with its output if any command fails."""
        result = subprocess.run(
            ["bash", "-c", self.script(name)],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        (self.log_dir / f"{name}.log").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, (
            f"docs/install.md block {name!r} failed ({result.returncode}):\n"
            f"{self.blocks[name].script}\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-4000:]}"
        )
        return result.stdout

    def start(self, name: str) -> tuple[subprocess.Popen[str], Path]:
        """Starts a block that waits (for a person, or forever); output goes to a log."""
        log = self.log_dir / f"{name}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                ["bash", "-c", self.script(name)],
                env=self.environ(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        return proc, log

    def check(self, command: str) -> str:
        """A look behind the doc (not one of its steps), in the same terminal state."""
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + self.env_script + command],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def adopt_env(self) -> None:
        self.env_script = self.blocks["env"].script


def stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C for the whole group the block started (bash and its flask)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_for_text(
    log: Path, pattern: str, proc: subprocess.Popen[str], timeout: float = 30
) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} in {log.name}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A fresh checkout (a copy of this working tree, as a clone would be) and an empty
    folder for the trial; nothing is written into the repository."""
    root = tmp_path_factory.mktemp("docs-install")
    checkout = root / "checkout"
    shutil.copytree(REPO, checkout, ignore=NOT_IN_A_CLONE, symlinks=True)
    (root / "logs").mkdir()
    yield {"checkout": checkout, "site": root / "trial", "logs": root / "logs"}


def test_the_doc_marks_every_trial_step_and_exports_the_values():
    blocks = doc_blocks()
    assert [b.name for b in blocks if b.kind in {"run", "connect", "serve"}] == TRIAL
    assert [b.kind for b in blocks].count("env") == 1
    (values,) = [b for b in blocks if b.kind == "values"]
    assert set(EXPORTED.findall(values.script)) == {
        "CHECKOUT",
        "SITE",
        "PORT",
        "REDIS_URL",
        "TRAKT_URL",
        "TRAKT_CLIENT_ID",
        "TRAKT_CLIENT_SECRET",
    }


@pytest.mark.slow
@pytest.mark.trakt
def test_an_admin_following_install_md_sees_ratings_sync(site, sandbox_server, sandbox, redis_url):
    port = free_port()
    trial = Trial(
        doc_blocks(),
        {
            "CHECKOUT": str(site["checkout"]),
            "SITE": str(site["site"]),
            "PORT": str(port),
            "REDIS_URL": redis_url,
            "TRAKT_URL": sandbox_server.url,
            "TRAKT_CLIENT_ID": CLIENT_ID,
            "TRAKT_CLIENT_SECRET": CLIENT_SECRET,
        },
        site["logs"],
    )

    # 1-4: build the wheel, a new virtualenv with it, the reference host, the keys.
    trial.run("build")
    assert list((site["site"] / "dist").glob("aperture_trakt_plugin-*.whl"))
    trial.run("install", timeout=300)
    trial.run("host")
    trial.run("keys")
    trial.adopt_env()  # 5: "in every terminal for the host"

    where = trial.check("python -c 'import aperture_trakt_plugin as p; print(p.__file__)'")
    assert where.strip().startswith(str(site["site"] / "venv" / "lib")), where
    assert "site-packages" in where

    # 6: migrations: nothing before, head after.
    out = trial.run("migrate")
    assert re.search(r"trakt tables at (\w+)", out)
    head = re.search(r"current: (\w+); head: (\w+)", out)
    assert head and head.group(1) == head.group(2), out

    # 7: the redirect URI to register, then the app "created at Trakt" with it.
    shown = trial.run("show")
    redirect_uri = re.search(r"^effective_redirect_uri: (\S+)$", shown, re.M).group(1)
    assert redirect_uri == f"http://localhost:{port}/plugins/trakt/callback"
    assert "client_id: not set" in shown
    sandbox.add_app(CLIENT_ID, CLIENT_SECRET, [redirect_uri, OOB])
    assert "Trakt accepted the Client ID and Client Secret" in trial.run("configure")

    # 8: connect alice with a device code; "she" enters it at the sandbox.
    with sandbox_settings(sandbox_server, SANDBOX_DEVICE_INTERVAL=1):
        proc, log = trial.start("connect")
        try:
            code = wait_for_text(log, r"open (\S+) and enter the code: (\w+)", proc)
            assert code.group(1) == sandbox_server.url + "/activate"
            sandbox.approve_device(code.group(2), "alice_trakt")
            assert proc.wait(30) == 0, log.read_text()
        finally:
            stop(proc)
    assert "alice: Connected as alice_trakt." in log.read_text()

    # 9: a rating made on the server reaches Trakt through the worker.
    out = trial.run("rate")
    assert "alice rated Casablanca 9/10" in out
    on_trakt = {r["movie"]["ids"]["tmdb"]: r["rating"] for r in sandbox.ratings("alice_trakt")}
    assert on_trakt == {289: 9}

    # 10: a rating made on Trakt comes back with the sync.
    trial.run("trakt-side")
    out = trial.run("pull")
    assert "1 pulled" in out, out
    assert re.search(r"^ 7/10  Rear Window \(1954\) .*\[trakt\]$", out, re.M), out
    assert re.search(r"^ 9/10  Casablanca \(1942\) .*\[aperture\]$", out, re.M), out
    assert "alice: Trakt alice_trakt (ok)" in out

    # 11: the web server: the Integrations card shows the credentials as set and the URI.
    proc, log = trial.start("serve")
    try:
        wait_for_port(port, timeout=30)
        check_integrations_page(f"http://127.0.0.1:{port}", redirect_uri)
    finally:
        stop(proc)

    # 12: uninstall: tables gone, the wheel gone; 13: the same plugin from a folder.
    trial.run("uninstall")
    trial.run("drop-in", timeout=300)
    out = trial.run("drop-in-check")
    first_line = out.splitlines()[0]
    assert first_line == str(site["site"] / "plugins" / "aperture_trakt_plugin" / "__init__.py")
    assert "trakt tables at" in out


def check_integrations_page(base: str, redirect_uri: str) -> None:
    """What the admin sees at Integrations: the card, the saved credentials masked."""
    with requests.Session() as browser:
        token = csrf_token_from(browser.get(f"{base}/login", timeout=10).text)
        signed_in = browser.post(
            f"{base}/login", data={"csrf_token": token, "username": "admin"}, timeout=10
        )
        assert signed_in.status_code == 200, signed_in.text[:500]
        card = browser.get(f"{base}/admin/settings/integrations", timeout=10)
    assert card.status_code == 200
    assert f'<code id="trakt-redirect-uri">{redirect_uri}</code>' in card.text
    assert CLIENT_SECRET not in card.text and CLIENT_ID not in card.text


def test_values_block_is_plain_exports():
    """The values block is what an admin edits: plain ``export NAME=value`` lines, so the
    test's substitution of its own values loses nothing the doc does there."""
    (values,) = [b for b in doc_blocks() if b.kind == "values"]
    for line in values.script.strip().splitlines():
        assert EXPORTED.match(line), line
        shlex.split(line.split("#", 1)[0])  # parses as shell words
