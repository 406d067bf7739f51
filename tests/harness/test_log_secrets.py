"""The end-of-run log scan (``tests/log_secrets.py``): it finds a leaked secret, names
where it is without printing it, leaves hashes and prefixes alone, keeps the sandbox's
secrets across resets, fails a whole pytest run, and does not change what caplog sees."""

from __future__ import annotations

import hashlib
import logging
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.services import REPO
from harness.trakt_sandbox.control_client import SandboxControl
from tests import log_secrets
from tests.log_secrets import SecretBook, log_files, scan_files


def book_of(**values: str) -> SecretBook:
    book = SecretBook()
    for kind, value in values.items():
        book.add(kind.replace("_", " "), value)
    return book


def test_a_token_in_a_log_is_found_and_shown_only_by_fingerprint(tmp_path: Path) -> None:
    token, verifier = secrets.token_hex(32), secrets.token_urlsafe(48)
    log = tmp_path / "worker.log"
    log.write_text(
        f"12:00:01 starting\n12:00:02 sync: Authorization: Bearer {token}\n"
        f"12:00:03 exchanged code with verifier={verifier}&x=1\n"
    )
    leaks = scan_files([log], book_of(access_token=token, PKCE_code_verifier=verifier)).leaks

    assert [(leak.secret.kind, leak.line, leak.count) for leak in leaks] == [
        ("access token", 2, 1),
        ("PKCE code verifier", 3, 1),
    ]
    report = "\n".join(leak.describe() for leak in leaks)
    assert str(log) in report and token[:4] in report and "Bearer <access token" in report
    assert token not in report and verifier not in report


def test_a_hash_or_a_prefix_of_a_token_is_not_a_leak(tmp_path: Path) -> None:
    token = secrets.token_hex(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    log = tmp_path / "session.log"
    log.write_text(
        f"refreshed the token {token[:4]}… (sha256 {digest[:12]})\n"
        f"full digest {digest}, first half {token[:32]}, last half {token[32:]}\n"
    )
    assert scan_files([log], book_of(access_token=token)).leaks == []


def test_short_values_are_not_secrets_they_would_match_words(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x secret abc\n")
    assert scan_files([log], book_of(host_SECRET_KEY="x", client_secret="secret")).leaks == []


def test_a_code_in_a_redirect_request_line_is_allowed_anywhere_else_it_leaks(
    tmp_path: Path,
) -> None:
    """OAuth puts the code in the callback's query string, so HTTP access logs hold it by
    the protocol's design; the same code in any other line is still a leak."""
    code = secrets.token_hex(32)
    log = tmp_path / "session.log"
    log.write_text(
        f'127.0.0.1 - - [24/Nov/2026 14:55:57] "GET /plugins/trakt/callback?code={code}'
        f'&state=abc HTTP/1.1" 302 -\n'
        f'127.0.0.1 - - [24/Nov/2026 14:55:58] "GET /cb?state=abc&code={code} HTTP/1.1" 200 -\n'
    )
    assert scan_files([log], book_of(authorization_code=code)).allowed == 2
    assert scan_files([log], book_of(access_token=code)).leaks  # only codes, by their kind

    log.write_text(
        f'exchanging code={code} for tokens\n"POST /oauth/token?code={code} HTTP/1.1" 200\n'
    )
    scan = scan_files([log], book_of(authorization_code=code))
    assert [(leak.line, leak.count) for leak in scan.leaks] == [(1, 2)] and scan.allowed == 0


def test_only_log_files_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    for name in ("logs/worker.log", "logs/scheduler.log", "host.db", "secret_key"):
        (tmp_path / name).write_text("")
    assert [p.name for p in log_files(tmp_path)] == ["scheduler.log", "worker.log"]


def test_the_sandbox_journal_keeps_secrets_across_resets(sandbox: SandboxControl) -> None:
    sandbox.add_app("journal-client", "journal-client-secret", ["urn:ietf:wg:oauth:2.0:oob"])
    pair = sandbox.issue_tokens("journal_user")
    sandbox.reset()
    issued = {entry["value"]: entry["kind"] for entry in sandbox.issued_secrets()}
    assert issued[pair["access_token"]] == "access token"
    assert issued[pair["refresh_token"]] == "refresh token"
    assert issued["journal-client-secret"] == "client secret"


def test_caplog_sees_exactly_what_it_did_without_the_scan(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    run = request.config.stash.get(log_secrets._state_key, None)
    if run is None:
        pytest.skip("the log_secrets plugin is not active in this run")
    marker = secrets.token_hex(8)
    logging.getLogger("aperture_trakt_plugin.probe").debug("plugin debug %s", marker)
    logging.getLogger("some.library").info("library info %s", marker)
    logging.getLogger("some.library").warning("library warning %s", marker)
    assert [r.getMessage() for r in caplog.records] == [f"library warning {marker}"]

    with caplog.at_level(logging.DEBUG, logger="aperture_trakt_plugin"):
        logging.getLogger("aperture_trakt_plugin.probe").debug("asked for %s", marker)
    assert caplog.records[-1].getMessage() == f"asked for {marker}"

    written = run.handler.path.read_text()
    for line in (
        f"plugin debug {marker}",
        f"library info {marker}",
        f"library warning {marker}",
        f"asked for {marker}",
    ):
        assert line in written
    assert f"[{request.node.nodeid}]" in written  # records name the test that ran


LEAKING_TEST = """
import logging
from pathlib import Path

from harness.trakt_sandbox.state import ISSUED_SECRETS

ACCESS, REFRESH = {access!r}, {refresh!r}


def test_something(tmp_path: Path) -> None:
    ISSUED_SECRETS.record("access token", ACCESS)
    ISSUED_SECRETS.record("refresh token", REFRESH)
    if {leak!r}:
        logging.getLogger("aperture_trakt_plugin.fake").debug("got %s", ACCESS)
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "worker.log").write_text("refresh_token=" + REFRESH + "\\n")
    else:
        logging.getLogger("aperture_trakt_plugin.fake").info("got %s…", ACCESS[:4])
"""


@pytest.mark.parametrize("leak", [True, False], ids=["leaking", "clean"])
def test_a_run_whose_logs_hold_a_secret_fails_and_names_it(tmp_path: Path, leak: bool) -> None:
    access, refresh = secrets.token_hex(32), secrets.token_hex(32)
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(
        textwrap.dedent(LEAKING_TEST.format(access=access, refresh=refresh, leak=leak))
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.log_secrets",
            "--basetemp",
            str(tmp_path / "inner"),
            str(test_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert access not in output and refresh not in output
    if not leak:
        assert result.returncode == 0, output
        assert "log-secrets: " in output and "none found" in output
        return
    assert result.returncode == 1, output
    assert "1 passed" in output and "secrets found in logs" in output
    assert f"access token {access[:4]}…" in output
    assert f"refresh token {refresh[:4]}…" in output
    assert "session.log" in output and "aperture_trakt_plugin.fake" in output
    assert "worker.log" in output and "refresh_token=<refresh token" in output
