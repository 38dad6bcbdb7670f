"""What the browser tests share besides fixtures: the browser's settings, page sizes, the live server's
handle, and helpers to sign in, check labels and save screenshots."""

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COHORT = "world-cities-eu-korea-2017-18"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Live:
    url: str
    manager: str
    member: str
    sessions: object


def shot(page: Page, folder: Path, name: str, *, height: int | None = None, of: Locator | None = None) -> None:
    """The whole page, its top `height` pixels, or one element (`of`), as `folder`/`name`.png."""
    folder.mkdir(parents=True, exist_ok=True)
    if of is not None:
        of.screenshot(path=str(folder / f"{name}.png"))
        return
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height} if height else None
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True, clip=clip)


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
        && !el.getAttribute('aria-labelledby'))
    .map(el => el.name || el.id)"""


def assert_labelled(page: Page) -> None:
    """Every form control on the page has a label a screen reader announces."""
    assert page.evaluate(UNLABELLED) == [], page.url


def sign_in(page: Page, live: Live, key: str, *, shots: Path | None = None) -> None:
    """Sign in through the form; with `shots`, the sign-in page is saved there first."""
    page.goto(f"{live.url}/app")
    expect(page).to_have_url(re.compile(r"/app/login\?next="))
    if shots is not None:
        shot(page, shots, "login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def renamed_in_another_tab(page: Page, live: Live, profile_id: str, name: str) -> Page:
    """A second tab that opened the profile's edit page with `page`, renamed it to `name` and saved
    first, so `page` holds the older version: the start of every stale edit. Close it when done."""
    other = page.context.new_page()
    for tab in (page, other):
        tab.goto(f"{live.url}/app/profiles/{profile_id}/edit")
    other.get_by_label("Name", exact=True).fill(name)
    other.get_by_role("button", name="Save").click()
    expect(other.get_by_role("heading", level=1)).to_have_text(name)
    return other
