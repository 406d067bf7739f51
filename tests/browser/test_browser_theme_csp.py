"""The plugin's cards and pages under a strict Content-Security-Policy, and in the host's
light and dark themes (issue 17), in a real Chromium.

The reference host runs with ``DEMO_STRICT_CSP`` (nothing inline, nothing from another
origin): every page with a card of ours, the plugin's own pages and the sign-in popup
must load without one CSP violation while the connect flows still work. Then the cards'
computed colours: they follow the host's theme (its ``--host-*`` variables, its
``data-theme`` toggle over the OS's preference), fall back to the plugin's own palette
when the host sets nothing, and keep a WCAG contrast of at least 4.5 in both themes.

With ``UPDATE_SCREENSHOTS=1`` the theme test refreshes docs/images/jobs-health-*.png and
profile-*.png (docs/host-contract.md, "Themes").
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from harness.reference_host.app import strict_csp
from harness.services import REPO, WSGIServerThread
from harness.trakt_sandbox.control_client import SandboxControl
from tests.browser.test_browser_admin import UPDATE_SCREENSHOTS
from tests.browser.test_browser_connect import CLIENT_ID, CLIENT_SECRET, log_in
from tests.connect_helpers import configure_trakt, connect_with_tokens

pytestmark = [pytest.mark.browser]

IMAGES = REPO / "docs" / "images"
MIN_CONTRAST = 4.5  # WCAG 2 AA for normal text

# Reports every violation of the page's CSP to the test, across navigations and popups.
WATCH_CSP = """
document.addEventListener('securitypolicyviolation', function (e) {
  window.reportCspViolation([e.violatedDirective, e.blockedURI || 'inline',
                             e.sourceFile + ':' + e.lineNumber, document.location.href]);
});
"""


@pytest.fixture()
def host_config(sandbox_server):
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
        "DEMO_STRICT_CSP": True,
    }


@pytest.fixture()
def site(host_app: Flask, sandbox: SandboxControl) -> Iterator[str]:
    with WSGIServerThread(host_app) as server:
        host_app.config["PUBLIC_BASE_URL"] = server.url
        sandbox.add_app(
            CLIENT_ID, CLIENT_SECRET, [f"{server.url}/plugins/trakt/callback", OOB_REDIRECT_URI]
        )
        yield server.url


class CspWatch:
    """One browser context whose pages (popups too) report CSP violations and the CSP
    each of the host's documents was served with."""

    def __init__(self, browser: Any, base: str, **options: Any) -> None:
        self.base = base
        self.violations: list[list[str]] = []
        self.console: list[str] = []
        self.policies: dict[str, str] = {}
        self.context = browser.new_context(viewport={"width": 1100, "height": 900}, **options)
        self.context.set_default_timeout(15_000)
        self.context.expose_binding(
            "reportCspViolation", lambda _source, report: self.violations.append(report)
        )
        self.context.add_init_script(WATCH_CSP)
        self.context.on("console", self._console)
        self.context.on("response", self._response)
        self.page = self.context.new_page()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.console.append(message.text)

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document" and response.url.startswith(self.base):
            self.policies[response.url] = response.headers.get("content-security-policy", "")

    def clean(self) -> None:
        assert self.violations == [], self.violations
        assert self.console == [], self.console

    def close(self) -> None:
        self.context.close()


def configure_as_admin(page: Any, base: str) -> None:
    log_in(page, base, "admin")
    page.goto(f"{base}/admin/settings/integrations")
    page.fill("#trakt-client-id", CLIENT_ID)
    page.fill("#trakt-client-secret", CLIENT_SECRET)
    page.click("#trakt-save")
    assert "Trakt accepted" in page.wait_for_selector("#trakt-admin-notice").inner_text()


def computed(page: Any, selector: str, *properties: str) -> list[str]:
    return page.eval_on_selector(
        selector,
        "(el, props) => props.map((p) => getComputedStyle(el).getPropertyValue(p))",
        list(properties),
    )


def test_cards_and_pages_work_under_a_strict_csp(browser, site, sandbox, host_app):
    from playwright.sync_api import expect

    admin = CspWatch(browser, site)
    user = CspWatch(browser, site)
    try:
        page = admin.page
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
        # Admin → Settings → Setup → Integrations: the card and its form
        configure_as_admin(page, site)
        # The stylesheet came from the plugin's static path (no inline style is left).
        assert computed(page, "#trakt-integration", "border-top-left-radius") == ["8px"]
        page.click("#trakt-copy-redirect")  # trakt.js, not an onclick attribute
        expect(page.locator("#trakt-copy-redirect")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == f"{site}/plugins/trakt/callback"

        page.goto(f"{site}/admin/jobs")  # Admin → Jobs with the health panel
        page.wait_for_selector("#trakt-health")
        assert computed(page, "#trakt-health", "border-left-width") == ["6px"]
        page.goto(f"{site}/plugins/trakt/admin/status")  # the plugin's own status page,
        assert page.locator("header.topbar").count() == 1  # inside the host's layout
        assert page.locator("main #trakt-status-page").count() == 1
        assert page.locator("link[href$='trakt/trakt.css']").count() == 1

        # A user connects in the popup; the result page tells the opener and closes.
        log_in(user.page, site, "alice")
        user.page.goto(f"{site}/settings/profile")
        with user.page.expect_popup() as popup_info:
            user.page.click("#trakt-connect")
        popup = popup_info.value
        popup.wait_for_selector("#username")
        popup.fill("#username", "alice_trakt")
        popup.click("#login")
        with popup.expect_event("close"):
            popup.click("#approve")
        user.page.wait_for_selector("#trakt-connected-as")
        assert user.page.inner_text("#trakt-connected-as") == "Trakt account: alice_trakt"
        user.page.click("#trakt-disconnect")
        user.page.wait_for_selector("#trakt-connect")

        # The device code: trakt.js posts and redraws the card from the server.
        user.page.click("#trakt-connect-device")
        assert user.page.wait_for_selector("#trakt-device-code").inner_text().strip()

        # The result page with no opener takes its tab back to the profile.
        user.page.goto(f"{site}/plugins/trakt/callback?state=nothing&code=x")
        expect(user.page).to_have_url(f"{site}/")  # no sign-in under way: the fallback
        user.page.goto(f"{site}/discover")  # the discovery page's parts

        for watch in (admin, user):
            watch.clean()
            strict = strict_csp(host_app.config["APERTURE_TRAKT_API_URL"])
            served = [url for url, policy in watch.policies.items() if strict not in policy]
            assert served == [], "pages served without the strict CSP"
        assert any("/plugins/trakt/callback" in url for url in user.policies)

        # The watch does see a violation when there is one.
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.ran = 1'; document.body.append(s); }"
        )
        assert page.evaluate("window.ran") is None
        user.page.wait_for_timeout(100)
        assert [v[0] for v in admin.violations] == ["script-src-elem"]
    finally:
        admin.close()
        user.close()


# --- themes ------------------------------------------------------------------------------


def channels(value: str) -> tuple[float, float, float]:
    """sRGB channels (0 to 1) of a computed colour: ``rgb(…)``/``rgba(…)`` or, for a
    ``color-mix``, ``color(srgb …)``."""
    numbers = [float(n) for n in re.findall(r"[-\d.]+", value)]
    if value.startswith("color(srgb"):
        return numbers[0], numbers[1], numbers[2]
    if value.startswith("rgb"):
        assert len(numbers) == 3 or numbers[3] == 1, f"not opaque: {value}"
        return numbers[0] / 255, numbers[1] / 255, numbers[2] / 255
    raise AssertionError(f"unexpected colour {value!r}")


def luminance(value: str) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in channels(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def card_colours(page: Any, card: str, texts: list[str]) -> dict[str, Any]:
    """The card's text and background, and the contrast of each text inside it: its own
    colour on its own background (a badge's, a notice's) or on the card's."""
    fg, bg = computed(page, card, "color", "background-color")
    ratios = {"text": contrast(fg, bg)}
    for selector in texts:
        found = page.eval_on_selector_all(
            f"{card} {selector}",
            "els => els.map((el) => [getComputedStyle(el).color,"
            " getComputedStyle(el).backgroundColor])",
        )
        assert found, f"nothing matches {card} {selector}"
        for index, (colour, behind) in enumerate(found):
            ratios[f"{selector}[{index}]"] = contrast(
                colour, bg if behind == "rgba(0, 0, 0, 0)" else behind
            )
    return {"fg": fg, "bg": bg, "dark": luminance(bg) < 0.2, "contrast": ratios}


#: (the OS's preference, the host's toggle as its "theme" cookie, the theme expected)
THEMES = [
    ("light", None, "light"),
    ("dark", None, "dark"),
    ("light", "dark", "dark"),  # the host's own toggle wins over the OS
    ("dark", "light", "light"),
]
PROFILE_TEXTS = [".trakt-hint", "#trakt-connected-as", ".trakt-badge", "summary"]
JOBS_TEXTS = [".trakt-hint", ".trakt-health-status", "#trakt-health-state", "li strong"]
HOST_SURFACE = {"light": "rgb(255, 255, 255)", "dark": "rgb(26, 32, 40)"}  # host.css
PLUGIN_BG = {"light": "rgb(255, 255, 255)", "dark": "rgb(27, 33, 41)"}  # trakt.css


def save_screenshot(locator: Any, name: str) -> None:
    """The card alone, into docs/images/; made small with pngquant where it is installed
    (a few tens of KB instead of a hundred)."""
    path = IMAGES / name
    locator.screenshot(path=str(path))
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--quality=70-95", "--output", path, path],
            check=False,
        )


def assert_readable(found: dict[str, Any], theme: str, where: str) -> None:
    assert found["dark"] == (theme == "dark"), (where, found)
    poor = {name: round(r, 2) for name, r in found["contrast"].items() if r < MIN_CONTRAST}
    assert poor == {}, f"{where} ({theme}): contrast below {MIN_CONTRAST}: {poor}"


def test_cards_follow_the_hosts_theme_with_readable_contrast(
    browser, site, host_app, sandbox, tmp_path
):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for scheme, toggle, theme in THEMES:
        watch = CspWatch(browser, site, color_scheme=scheme)
        try:
            page = watch.page
            if toggle:
                page.context.add_cookies([{"name": "theme", "value": toggle, "url": site}])
            log_in(page, site, "admin")
            page.goto(f"{site}/admin/jobs")
            assert page.get_attribute("html", "data-theme") == toggle
            jobs = card_colours(page, "#trakt-health", JOBS_TEXTS)
            assert_readable(jobs, theme, "jobs")
            assert jobs["bg"] == HOST_SURFACE[theme]  # from the host's --host-surface
            if UPDATE_SCREENSHOTS and not toggle:
                save_screenshot(page.locator("#trakt-health"), f"jobs-health-{theme}.png")

            log_in(page, site, "alice")
            page.goto(f"{site}/settings/profile")
            page.wait_for_selector("#trakt-connected-as")
            profile = card_colours(page, "#trakt-profile", PROFILE_TEXTS)
            assert_readable(profile, theme, "profile")
            if UPDATE_SCREENSHOTS and not toggle:
                save_screenshot(page.locator("#trakt-profile"), f"profile-{theme}.png")

            # A host that sets no variables: the plugin's palette, by the same toggle or
            # the OS's preference.
            page.eval_on_selector("link[href$='host.css']", "el => el.remove()")
            bare = card_colours(page, "#trakt-profile", PROFILE_TEXTS)
            assert_readable(bare, theme, "profile without host.css")
            assert bare["bg"] == PLUGIN_BG[theme]

            seen[(scheme, toggle)] = {"jobs": jobs, "profile": profile}
            watch.clean()
        finally:
            watch.close()

    light, dark = seen[("light", None)], seen[("dark", None)]
    for card in ("jobs", "profile"):
        assert light[card]["fg"] != dark[card]["fg"] and light[card]["bg"] != dark[card]["bg"]
        assert seen[("light", "dark")][card]["bg"] == dark[card]["bg"]
        assert seen[("dark", "light")][card]["bg"] == light[card]["bg"]


def test_the_plugins_own_pages_follow_the_os_preference(browser, site):
    """The status page is the plugin's own (no host.css): its palette follows the OS."""
    found = {}
    for theme in ("light", "dark"):
        watch = CspWatch(browser, site, color_scheme=theme)
        try:
            log_in(watch.page, site, "admin")
            watch.page.goto(f"{site}/plugins/trakt/admin/status")
            fg, bg = computed(watch.page, "body", "color", "background-color")
            assert (luminance(bg) < 0.2) == (theme == "dark")
            assert contrast(fg, bg) >= MIN_CONTRAST
            (hint,) = computed(watch.page, ".trakt-hint", "color")
            assert contrast(hint, bg) >= MIN_CONTRAST
            found[theme] = (fg, bg)
            watch.clean()
        finally:
            watch.close()
    assert found["light"] != found["dark"]
