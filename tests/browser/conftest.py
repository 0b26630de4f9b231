"""Browser tests: Debian's Chromium driven by Playwright against a real `matcher serve`.

Chromium must be /usr/bin/chromium (Debian's package; `.ci/run` installs it) and axe-core
comes from the npm registry (`.ci/run` installs it under `.ci/node`; otherwise the first
run installs it under `tests/browser/.axe`). Under CI=true a missing piece fails the tests
instead of skipping them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evaluation.server import create_key, environment_for, serving
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# The fake encoders score on another scale than the real models: every open need counts as
# "no good match" in the report, and the donor view lists every open need.
FAKE = {
    "MATCHER_MULTILINGUAL_ENCODER": "fake",
    "MATCHER_ENGLISH_ENCODER": "fake",
    "MATCHER_UNMET_SCORE_THRESHOLD": "5",
    "MATCHER_DONOR_MIN_SCORE": "-10",
}


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {what}: browser tests must run in CI")
    pytest.skip(what)


def axe_script() -> Path:
    for candidate in (
        ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js",
        ROOT / "tests" / "browser" / ".axe" / "node_modules" / "axe-core" / "axe.min.js",
    ):
        if candidate.is_file():
            return candidate
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm is not installed (needed once to fetch axe-core)")
    target = ROOT / "tests" / "browser" / ".axe"
    result = subprocess.run(
        [str(npm), "install", "--prefix", str(target), "axe-core@4", "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if result.returncode != 0 or not script.is_file():
        _missing(f"axe-core could not be installed: {result.stderr[-300:]}")
    return script


@dataclass
class Site:
    base: str
    keys: dict[str, str]
    axe: Path
    browser: Any
    items: dict[str, str] = field(default_factory=dict)

    def page(self, role: str | None, errors: list[str] | None = None) -> Any:
        """A fresh browser context signed in as ``role`` (through the sign-in form)."""
        context = self.browser.new_context(locale="en-GB")
        page = context.new_page()
        if errors is not None:
            page.on(
                "console",
                lambda message: (
                    errors.append(f"{message.type}: {message.text}") if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        if role is not None:
            page.goto(f"{self.base}/")
            page.get_by_label("API key").fill(self.keys[role])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        return page

    def serious_violations(self, page: Any) -> list[str]:
        # Evaluated through the DevTools protocol: the pages' CSP (script-src 'none') refuses
        # an injected <script> tag, as it would any script, and the test keeps that CSP on.
        page.evaluate(self.axe.read_text(encoding="utf-8") + "\n;undefined")
        result = page.evaluate("async () => await axe.run(document)")
        return [
            f"{violation['id']} ({violation['impact']}): {violation['help']} at {[n['target'] for n in violation['nodes']][:3]}"
            for violation in result["violations"]
            if violation["impact"] in ("serious", "critical")
        ]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One Playwright driver and one Chromium for the whole session: Playwright's sync API
    cannot start a second driver while one runs in the same thread."""
    if not CHROMIUM.exists():
        _missing("/usr/bin/chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Site]:
    axe = axe_script()
    environment = environment_for(tmp_path_factory.mktemp("site"), FAKE)
    keys = {
        "secretariat": create_key(environment, "--role", "secretariat"),
        "party": create_key(environment, "--role", "party", "--party", "SEN"),
        "provider": create_key(environment, "--role", "provider", "--provider", "unep"),
    }
    with serving(environment, timeout=180) as base:
        yield Site(base, keys, axe, chromium)


def need_id_from(url: str) -> str:
    found = re.search(r"/needs/(need-[0-9a-f]+)", url)
    assert found, url
    return found.group(1)
