"""The README's demo story, walked as a new user walks it: ``python -m harness.demo`` (what
``make demo`` runs) starts Redis, the sandbox, the host, a worker and the scheduler as
processes; the URLs and the ``flask trakt`` line are read from its banner; Chromium
goes through every step of "## The demo" in the README on the pages it names; Ctrl-C
stops it all.

One test, because each step stands on the one before (as in the README). It uses no
fixture of the suite's own host or sandbox: only what a person typing the README's
commands would have.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.demo import CLIENT_ID, CLIENT_SECRET
from harness.services import REPO
from tests.browser.test_browser_admin import UPDATE_SCREENSHOTS
from tests.browser.test_browser_connect import approve_in_popup
from tests.harness.test_demo_host_launcher import demo_argv

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BANNER_END = "Press Ctrl-C to stop everything."
HOST_RATED = ("Heat", 949, "9")  # rated in the host's library
TRAKT_RATED = ("Alien", 348, "8")  # rated on the sandbox's Trakt website
WAIT = 30.0  # seconds for a job in the demo's worker to show its effect
COUNTED = re.compile(r"^You (rated|watched) .+; \d+ people here who rated it \d+\+? rated this")


class RunningDemo:
    def __init__(self, process: subprocess.Popen[str], banner: str, state_dir: Path) -> None:
        self.process, self.banner, self.state_dir = process, banner, state_dir
        self.host = re.search(r"Host:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        self.sandbox = re.search(r"Sandbox:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        self.ratings_page = re.search(r"(\S+/site/users/alice_trakt/ratings)", banner).group(1)  # type: ignore[union-attr]
        self.flask_line = next(
            line.strip() for line in banner.splitlines() if "flask trakt" in line
        )


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    process = subprocess.Popen(
        demo_argv(tmp_path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while BANNER_END not in "".join(lines):
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the demo did not print its banner:\n" + "".join(lines))
        lines.append(line)
    try:
        yield RunningDemo(process, "".join(lines), tmp_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def eventually(
    check: Callable[[], bool],
    what: str,
    page: Any = None,
    seen: Callable[[], object] | None = None,
) -> None:
    """Until ``check()`` holds (a job in the demo's worker is doing it), reloading;
    ``seen`` says what there was instead."""
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:.0f}s: {what}" + (f"; saw {seen()}" if seen else ""))
        time.sleep(0.5)
        if page is not None:
            page.reload()


def log_in(page: Any, host: str, name: str) -> None:
    page.goto(f"{host}/login")
    page.click(f"#login-{name}")
    page.wait_for_url(lambda url: "/login" not in url)


def menu(page: Any, name: str) -> None:
    """Where the README says "open X": the host's own menu, as a person would."""
    with page.expect_navigation():
        page.locator("nav").get_by_role("link", name=name, exact=True).click()


def run_sync_now(admin: Any, host: str) -> None:
    """Admin → Jobs → sync-trakt-ratings → Run now, until the run says it succeeded."""
    admin.goto(host)
    menu(admin, "Jobs")
    with admin.expect_navigation():
        admin.locator("#job-sync-trakt-ratings").get_by_role("button", name="Run now").click()
    eventually(
        lambda: admin.inner_text("#run-status") not in ("queued", "running"),
        "the sync run to finish",
        admin,
    )
    assert admin.inner_text("#run-status") == "succeeded", admin.inner_text("#run-log")


def rating_in_library(page: Any, host: str, title: str, tmdb: int) -> str:
    page.goto(f"{host}/library?q={title}")
    return page.locator(f'tr[data-tmdb="{tmdb}"] .current-rating').inner_text().strip()


def test_the_readme_demo_story_goes_all_the_way(browser: Any, demo: RunningDemo) -> None:
    from playwright.sync_api import expect

    readme = (REPO / "README.md").read_text()
    story = readme.split("## The demo", 1)[1].split("\n## ", 1)[0]
    # The pages, titles and commands the steps below use are the ones the README names.
    for named in (
        "Integrations",
        "Profile",
        "Connect Trakt",
        "alice_trakt",
        "Library",
        "Jobs",
        "Run now",
        "sync-trakt-ratings",
        "Discovery",
        "Not interested",
        "flask trakt",
        CLIENT_ID,
        CLIENT_SECRET,
        HOST_RATED[0],
        TRAKT_RATED[0],
        "Ctrl-C",
    ):
        assert named in story, named
    host, contexts = demo.host, []

    def new_page() -> Any:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    admin, alice = new_page(), new_page()
    try:
        # 1. The admin enters the sandbox app's credentials on Integrations.
        log_in(admin, host, "admin")
        menu(admin, "Integrations")
        expect(admin.locator("h1")).to_contain_text("Integrations")
        admin.fill("#trakt-client-id", CLIENT_ID)
        admin.fill("#trakt-client-secret", CLIENT_SECRET)
        admin.click("#trakt-save")
        expect(admin.locator("#trakt-admin-notice")).to_contain_text("Trakt accepted")

        # 2. Alice connects on Profile: the sandbox's popup, sign in, approve.
        log_in(alice, host, "alice")
        menu(alice, "Profile")
        approve_in_popup(alice, "alice_trakt")
        expect(alice.locator("#trakt-connected-as")).to_have_text("Trakt account: alice_trakt")

        # 3. Alice rates Heat 9 in the library; it reaches alice_trakt's ratings page.
        title, tmdb, value = HOST_RATED
        menu(alice, "Library")
        alice.fill("input[name=q]", title)
        alice.click("form.search button")
        row = alice.locator(f'tr[data-tmdb="{tmdb}"]')
        row.locator("select[name=value]").select_option(value)
        row.get_by_role("button", name="Rate").click()
        expect(alice.locator(".flash-success")).to_contain_text(f"Rated {title} {value}/10.")
        trakt = new_page()
        trakt.goto(demo.sandbox)
        with trakt.expect_navigation():
            trakt.locator("#users").get_by_role("link", name="alice_trakt").click()
        assert trakt.url == demo.ratings_page
        heat = trakt.locator("#ratings tr", has_text=title)
        eventually(lambda: heat.count() == 1, f"{title} on alice_trakt's ratings page", trakt)
        expect(heat.locator(".rating")).to_have_text(value)

        # 4. Alice rates Alien 8 on the sandbox (signed in there by the popup); the
        #    admin runs sync-trakt-ratings on Admin → Jobs; it is in alice's library.
        title, tmdb, value = TRAKT_RATED
        alice.goto(demo.ratings_page)
        alice.fill("#q", title)
        with alice.expect_navigation():
            alice.locator("#find-title button").click()
        found = alice.locator("#found li", has_text=f"{title} (").first
        found.locator("select[name=rating]").select_option(value)
        with alice.expect_navigation():
            found.get_by_role("button", name="Rate").click()
        expect(alice.locator(".flash")).to_contain_text(f"Rated {title}")
        assert rating_in_library(alice, host, title, tmdb) == "not rated"
        run_sync_now(admin, host)
        assert rating_in_library(alice, host, title, tmdb) == f"{value}/10"

        # 5. Discovery: posters or their placeholders, a reason from the people here,
        #    and Not interested hides a title.
        menu(alice, "Discovery")
        expect(alice.locator("h1")).to_have_text("Discovery")
        counted = alice.locator(".candidate .reason", has_text=COUNTED)
        eventually(
            lambda: counted.count() > 0,
            "a reason counting people here",
            alice,
            lambda: sorted(set(alice.locator(".candidate .reason").all_inner_texts())),
        )
        if UPDATE_SCREENSHOTS:  # the README's picture: the row with a counted reason
            row_top = "el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 60)"
            counted.first.locator("xpath=ancestor::li[1]").evaluate(row_top)
            alice.wait_for_function(
                "() => [...document.querySelectorAll('img.poster')].filter(i => {"
                " const r = i.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight;"
                " }).every(i => i.complete && i.naturalWidth > 0)"
            )
            alice.screenshot(path=str(REPO / "docs" / "images" / "discovery.png"))
        card = alice.locator("li.candidate:has(form.not-interested)").first
        hidden = card.locator("strong").inner_text()
        with alice.expect_navigation():
            card.get_by_role("button", name="Not interested").click()
        expect(alice.locator(".flash-success")).to_contain_text(
            f"{hidden} is hidden from your discovery."
        )

        # 6. The banner's line points `flask trakt …` at the running demo.
        command = demo.flask_line.replace(
            ".venv/bin/flask", shlex.quote(sys.executable) + " -m flask"
        )
        status = subprocess.run(
            ["bash", "-c", command + " --user alice"],
            cwd=REPO,
            env={
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("APERTURE_", "DATABASE_URL"))
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "alice_trakt" in status.stdout, status.stdout
    finally:
        for context in contexts:
            context.close()

    # 7. Ctrl-C stops everything, the worker and scheduler before Redis: no traceback.
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0
    logs = demo.state_dir / "logs"
    for name in ("worker.log", "scheduler.log", "host.log"):
        assert "Traceback" not in (logs / name).read_text(), name
