"""The page at GET /, driven in real headless Chromium (Playwright's sync API) against the live server.

Skips when Chromium or Playwright is missing, unless THRESHER_REQUIRE_BROWSER=1 (CI), which makes that a
failure. One browser per module; each test gets a fresh context and page. Set THRESHER_PAGE_SCREENSHOT to a
path to save a screenshot of the scraped text's result there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from resources import ARABIC, CLEAN, NAME_SWAPS, SCRAPED, SPUN, SPUN_MANGLED

from service.scoring import shown_score

try:
    from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the environment
    PLAYWRIGHT_ERROR: str | None = f"the playwright package is not importable ({exc})"
else:
    PLAYWRIGHT_ERROR = None

CHROMIUM = os.environ.get("THRESHER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 30_000

XSS_LINES = [
    '<img src=x onerror="window.__xss = 1">',
    "<script>window.__xss = 2</script>",
    '<svg onload="window.__xss = 3"></svg><iframe src="javascript:window.__xss=4"></iframe>',
    "<b>not bold</b> &amp; <a href=\"javascript:window.__xss=5\">link</a>",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("THRESHER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"THRESHER_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if PLAYWRIGHT_ERROR is not None:
        _unavailable(PLAYWRIGHT_ERROR)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium executable at {CHROMIUM} (set THRESHER_CHROMIUM to another path)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Tab:
    """A page on the live server, with everything it logged and requested."""

    page: Page
    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    score_headers: list[dict[str, str]] = field(default_factory=list)

    def score(self, text: str, *, keyboard: bool = False) -> None:
        """Paste ``text``, press Score (or Ctrl+Enter) and wait until the answer is shown."""
        page = self.page
        page.fill("#text", text)
        with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/score"):
            if keyboard:
                page.focus("#text")
                page.keyboard.press("Control+Enter")
            else:
                page.click("#score-button")
        expect(page.locator("#score-button")).to_be_enabled()
        page.wait_for_function("!document.getElementById('result').hidden || !document.getElementById('error').hidden")


@pytest.fixture
def tab(browser, live_server) -> Iterator[Tab]:
    origin = live_server.url
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    t = Tab(page=page, origin=origin)

    def guard(route: Route) -> None:  # the page must not reach anything but the server; never let it try
        url = route.request.url
        if url.startswith(origin + "/"):
            route.continue_()
        else:
            t.foreign.append(url)
            route.abort()

    def on_request(request) -> None:
        t.requests.append(request.url)
        if urlsplit(request.url).path == "/v1/score":
            t.score_headers.append(request.headers)

    context.route("**/*", guard)
    page.on("request", on_request)
    page.on("console", lambda msg: t.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: t.page_errors.append(str(err)))

    def on_dialog(dialog) -> None:
        t.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(origin + "/", wait_until="load")
    yield t
    context.close()


def _api_answer(live_server, text: str) -> dict[str, Any]:
    with live_server.client() as client:
        r = client.post("/v1/score", json={"text": text})
    assert r.status_code == 200, r.text
    return r.json()


def _signed(value: float) -> str:
    rounded = round(value, 1)
    return "0.0" if rounded == 0 else f"{rounded:+.1f}"


def _assert_clean(t: Tab) -> None:
    assert t.page_errors == []
    assert t.console_errors == []
    assert t.dialogs == []
    assert t.foreign == []
    hosts = {urlsplit(u).netloc for u in t.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {urlsplit(t.origin).netloc}, t.requests


def test_page_loads_without_errors_or_foreign_requests(tab):
    page = tab.page
    assert "Thresher" in page.title()
    paths = {urlsplit(u).path for u in tab.requests}
    assert {"/", "/static/app.js", "/static/style.css"} <= paths
    # the stylesheet applied, the script ran
    assert page.eval_on_selector("#score-button", "b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.evaluate("document.documentElement.classList.contains('js')")
    # accessible: labelled inputs, a live result region, an alert for errors
    expect(page.get_by_label("Article text")).to_be_visible()
    page.click("#key-details summary")
    expect(page.get_by_label("API key", exact=True)).to_be_visible()
    assert page.get_attribute("#result", "aria-live") == "polite"
    assert page.get_attribute("#error", "role") == "alert"
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()
    _assert_clean(tab)


def test_scraped_text_shows_score_reasons_and_shaded_lines(tab, live_server):
    answer = _api_answer(live_server, SCRAPED)
    tab.score(SCRAPED)
    page = tab.page

    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#result")).to_be_visible()
    assert page.text_content("#score") == shown_score(answer["score"])
    assert page.text_content("#verdict") == answer["verdict"]
    assert f"verdict-{answer['verdict']}" in (page.get_attribute("#verdict", "class") or "")
    model = page.text_content("#model") or ""
    assert answer["model"]["name"] in model and answer["model"]["version"] in model
    assert (page.text_content("#elapsed") or "").endswith(" ms")
    assert page.text_content("#words") == str(answer["stats"]["words"])

    # every reason, in the API's order, with its signed contribution
    codes = page.locator("#reasons .reason-code").all_text_contents()
    assert codes == [r["code"] for r in answer["reasons"]]
    shown = page.locator("#reasons .contribution").all_text_contents()
    assert shown == [_signed(r["contribution"]) for r in answer["reasons"]]
    assert "Related posts" in (page.text_content("#reasons") or "")

    # the text line by line: boilerplate shaded by category, content lines plain, blank lines kept
    text_lines = SCRAPED.split("\n")
    assert page.locator("#lines > li").count() == len(SCRAPED.rstrip("\n").split("\n"))  # no trailing blank
    labels = {entry["line"]: entry["category"] for entry in answer["lines"]}
    boilerplate = {n: c for n, c in labels.items() if c != "content"}
    assert {"navigation", "related", "cookie", "title_site"} <= set(boilerplate.values())
    for number, category in labels.items():
        row = page.locator(f"#L{number}")
        classes = (row.get_attribute("class") or "").split()
        assert f"cat-{category}" in classes, (number, category, classes)
        assert ("boilerplate" in classes) == (category != "content"), (number, classes)
        assert row.locator(".lt").text_content() == text_lines[number - 1]
    assert page.locator("#lines li.boilerplate").count() == len(boilerplate)
    cookie_line = next(n for n, c in labels.items() if c == "cookie")
    shade = page.eval_on_selector(f"#L{cookie_line}", "e => getComputedStyle(e).backgroundColor")
    plain = page.eval_on_selector(f"#L{min(n for n, c in labels.items() if c == 'content')}",
                                  "e => getComputedStyle(e).backgroundColor")
    assert shade != plain and shade not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")

    # a legend of the categories that occur, and only those
    legend = set(page.locator("#legend [data-category]").evaluate_all("els => els.map(e => e.dataset.category)"))
    assert legend == set(labels.values())

    # no key entered: no Authorization header
    assert tab.score_headers and all("authorization" not in h for h in tab.score_headers)
    shot = os.environ.get("THRESHER_PAGE_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
    _assert_clean(tab)


def test_spun_text_underlines_misspellings_with_the_intended_spelling(tab, live_server):
    answer = _api_answer(live_server, SPUN)
    misspelt = [ev for r in answer["reasons"] for ev in r.get("evidence", []) if "found" in ev and "intended" in ev]
    assert misspelt, "the shipped model should find the spun text's mangled names"
    tab.score(SPUN, keyboard=True)  # Ctrl+Enter
    page = tab.page
    assert page.text_content("#score") == shown_score(answer["score"])
    assert page.text_content("#verdict") == answer["verdict"]

    for ev in misspelt:
        assert SPUN_MANGLED.get(ev["found"]) == ev["intended"], ev
        marks = page.locator(f"#L{ev['line']} .misspelling", has_text=ev["found"])
        assert marks.count() >= 1, ev
        assert ev["intended"] in (marks.first.get_attribute("title") or "")
        decoration = marks.first.evaluate("e => getComputedStyle(e).textDecorationLine")
        assert "underline" in decoration
    # the correct spellings elsewhere are not marked
    marked = set(page.locator("#lines .misspelling").all_text_contents())
    assert marked == {ev["found"] for ev in misspelt}
    # the CSS tooltip shows the intended spelling on keyboard focus too
    first = page.locator("#lines .misspelling").first
    first.focus()
    tooltip = first.evaluate("e => getComputedStyle(e, '::after').content")
    assert first.get_attribute("data-intended") in tooltip
    _assert_clean(tab)


def test_empty_text_shows_the_error_box(tab):
    page = tab.page
    tab.score(CLEAN)
    expect(page.locator("#result")).to_be_visible()
    tab.score("  \n \n")
    expect(page.locator("#error")).to_be_visible()
    assert page.text_content("#error-code") == "empty"
    assert (page.text_content("#error-message") or "").strip()
    expect(page.locator("#result")).to_be_hidden()  # no stale result next to the error
    expect(page.locator("#reasons-panel")).to_be_hidden()
    # the next good text clears the error
    tab.score(CLEAN)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#result")).to_be_visible()
    assert tab.page_errors == [] and tab.foreign == []


def test_the_same_error_twice_is_announced_twice(tab):
    """A screen reader announces an alert when its text changes: the same error again left the same text in the
    box that was showing, and nothing was said. The alert is now emptied and filled again."""
    page = tab.page
    tab.score("  \n")
    expect(page.locator("#error")).to_be_visible()
    message = page.text_content("#error-message")
    # what the alert holds each time it changes (None: hidden, nothing to read)
    page.evaluate("""() => {
        const box = document.getElementById('error'), said = document.getElementById('error-message');
        window.__alert = [];
        new MutationObserver(() => window.__alert.push(box.hidden ? null : said.textContent))
            .observe(box, {attributes: true, childList: true, characterData: true, subtree: true});
    }""")
    tab.score(" ")
    expect(page.locator("#error")).to_be_visible()
    assert page.text_content("#error-code") == "empty" and page.text_content("#error-message") == message
    seen = page.evaluate("window.__alert")
    assert None in seen and seen[-1] == message and message in seen[seen.index(None):], seen
    assert tab.page_errors == [] and tab.foreign == []


def test_without_explain_the_text_is_shown_unlabelled(tab, live_server):
    page = tab.page
    page.uncheck("#explain")
    tab.score(SCRAPED)
    assert any(urlsplit(u).query == "explain=false" for u in tab.requests if urlsplit(u).path == "/v1/score")
    with live_server.client() as client:
        answer = client.post("/v1/score", params={"explain": "false"}, json={"text": SCRAPED}).json()
    assert page.text_content("#score") == shown_score(answer["score"])
    assert page.locator("#reasons .reason-code").all_text_contents() == [r["code"] for r in answer["reasons"]]
    expect(page.locator("#text-panel")).to_be_visible()
    assert page.locator("#lines li.boilerplate").count() == 0
    assert page.locator("#L2 .lt").text_content() == "Home"
    _assert_clean(tab)


def test_pasted_markup_stays_text(tab):
    text = CLEAN.rstrip("\n") + "\n" + "\n".join(XSS_LINES) + "\n"
    tab.score(text)
    page = tab.page
    expect(page.locator("#result")).to_be_visible()
    page.wait_for_timeout(300)  # give any injected handler a chance to run
    assert page.evaluate("window.__xss") is None
    assert tab.dialogs == []
    for tag in ("img", "script", "svg", "iframe", "b", "a"):
        assert page.locator(f"#lines {tag}").count() == 0, tag
    first = len(CLEAN.rstrip("\n").split("\n")) + 1
    for offset, line in enumerate(XSS_LINES):
        assert page.locator(f"#L{first + offset} .lt").text_content() == line
    assert not any(urlsplit(u).path in ("/x", "/x/") for u in tab.requests)
    assert tab.page_errors == [] and tab.foreign == []


def test_api_key_is_sent_and_401_is_explained(tab):
    """A server with API keys answers 401 without the right one: stand in for it at the network layer."""
    page = tab.page

    def unauthorized(route: Route) -> None:
        route.fulfill(status=401, content_type="application/json", headers={"WWW-Authenticate": "Bearer"},
                      body=json.dumps({"error": {"code": "unauthorized", "message": "send 'Authorization: Bearer KEY'"}}))

    page.route("**/v1/score*", unauthorized)
    tab.score(CLEAN)
    expect(page.locator("#error")).to_be_visible()
    assert page.text_content("#error-code") == "unauthorized"
    assert "API key" in (page.text_content("#error-message") or "")
    assert page.get_attribute("#key-details", "open") is not None  # opened, so the field is there to fill
    assert "authorization" not in tab.score_headers[-1]

    page.fill("#api-key", "s3cret-key")
    tab.score(CLEAN)
    assert tab.score_headers[-1].get("authorization") == "Bearer s3cret-key"
    assert "refused" in (page.text_content("#error-message") or "")
    assert tab.page_errors == [] and tab.foreign == []


def test_long_tokens_stay_inside_the_page_and_an_edited_text_marks_its_result_stale(tab):
    """A 400-letter token was quoted whole in a reason's sentence and pushed the page 4,000 px wide; and
    a result stayed on screen, looking current, after its text was edited."""
    page = tab.page
    page.set_viewport_size({"width": 400, "height": 800})
    text = CLEAN + "\nSource: https://example.com/" + "a" * 400 + "\n" + "x" * 300 + "\n"
    tab.score(text)
    expect(page.locator("#result")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    expect(page.locator("#stale-note")).to_be_hidden()
    page.fill("#text", CLEAN + "\nOne more line.")
    expect(page.locator("#stale-note")).to_be_visible()
    assert "stale" in (page.get_attribute("#reasons-panel", "class") or "")
    tab.score(CLEAN)
    expect(page.locator("#stale-note")).to_be_hidden()
    # without JavaScript the form would put its fields in the address: it has none to put
    assert page.eval_on_selector_all("#score-form [name]", "els => els.length") == 0
    _assert_clean(tab)


def test_a_right_to_left_text_is_shown_right_to_left(tab):
    """Arabic lines were laid out left to right: aligned left, each sentence's full stop drawn at its right end,
    which is where an Arabic sentence starts. Each line (and the box it is typed in) takes the direction of
    its own first letters; an English line beside them stays left to right."""
    page = tab.page
    english = "Source: the city council's press office."
    text = ARABIC + english + "\n"
    tab.score(text)
    expect(page.locator("#result")).to_be_visible()
    assert page.eval_on_selector("#text", "e => getComputedStyle(e).direction") == "rtl"
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        lt = page.locator(f"#L{number} .lt")
        assert lt.text_content() == line
        # where the first and the last character are drawn: an Arabic sentence starts at the right
        first, last = lt.evaluate("""e => {
            const t = e.firstChild, r = document.createRange(), at = i => (r.setStart(t, i), r.setEnd(t, i + 1),
                r.getClientRects()[0].left);
            return [at(0), at(t.length - 1)];
        }""")
        if line == english:
            assert lt.evaluate("e => getComputedStyle(e).direction") == "ltr"
            assert first < last, line
        else:
            assert lt.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert first > last, line
    _assert_clean(tab)


def test_the_score_button_keeps_the_focus_while_it_scores(tab):
    """The button was disabled while the request ran, and a disabled button loses the focus: a keyboard user
    who pressed Enter on it was left on the page's body, and the next Tab started from the top."""
    page = tab.page
    page.fill("#text", CLEAN)
    page.focus("#score-button")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/score"):
        page.keyboard.press("Enter")
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#score-button")).to_be_enabled()
    assert page.evaluate("document.activeElement.id") == "score-button"
    # busy, it said so and a second press sent nothing
    page.route("**/v1/score*", lambda route: None)  # an answer that never comes
    page.keyboard.press("Enter")
    expect(page.locator("#score-button")).to_be_disabled()
    assert page.get_attribute("#score-button", "aria-disabled") == "true"
    assert page.text_content("#score-button") == "Scoring…"
    page.keyboard.press("Enter")
    assert sum(urlsplit(u).path == "/v1/score" for u in tab.requests) == 2
    assert page.evaluate("document.activeElement.id") == "score-button"
    assert tab.page_errors == [] and tab.foreign == []


def test_the_intended_spelling_stays_on_a_narrow_screen(tab):
    """The tip with the intended spelling started at the marked word's left end: for a word near the right
    edge of a phone's screen it ran off the screen (cut, and the page scrolled sideways). It now starts from
    the word's right end when it would not fit, on focus and on hover alike."""
    page = tab.page
    page.set_viewport_size({"width": 320, "height": 700})
    tab.score(NAME_SWAPS)  # two-word names, whose tip is wider than the words: "Scott Scent" -> "Scott Bessent"
    marks = page.locator("#lines .misspelling")
    assert set(marks.all_text_contents()) == {"Keir Starter", "Scott Scent"}
    for width in range(300, 481, 6):  # the marked words fall at every place along a line at some width
        page.set_viewport_size({"width": width, "height": 700})
        for i in range(marks.count()):
            mark = marks.nth(i)
            for show in (mark.focus, mark.hover):
                show()
                assert mark.get_attribute("data-intended") in mark.evaluate("e => getComputedStyle(e, '::after').content")
                # the tip is placed once it shows (a frame later than the event): waited for, not sampled
                # at once, so that a run on a loaded machine does not measure it before it is placed
                try:
                    page.wait_for_function("w => document.documentElement.scrollWidth <= w", arg=width, timeout=3000)
                except PlaywrightTimeoutError:
                    raise AssertionError((width, mark.text_content(),
                                          page.evaluate("document.documentElement.scrollWidth"))) from None
            mark.blur()
    _assert_clean(tab)


def test_a_name_misspelt_twice_is_underlined_twice(tab, live_server):
    """The evidence names the first line of a word the text misspells (and how many times): only that line
    was underlined, and the second "Okonkow" looked right."""
    text = SPUN.replace("and Okonkwo declined", "and Okonkow declined")
    answer = _api_answer(live_server, text)
    ev = next(e for r in answer["reasons"] for e in r.get("evidence", []) if e.get("found") == "Okonkow")
    lines = [n for n, line in enumerate(text.split("\n"), start=1) if "Okonkow " in line]
    assert ev["count"] == 2 and len(lines) == 2 and ev["line"] == lines[0]
    tab.score(text)
    page = tab.page
    for number in lines:
        mark = page.locator(f"#L{number} .misspelling", has_text="Okonkow")
        assert mark.count() == 1, number
        assert mark.get_attribute("data-intended") == "Okonkwo"
    # the right spellings, and words that merely contain the wrong one, stay unmarked
    marked = page.locator("#lines .misspelling").all_text_contents()
    assert sorted(marked) == sorted([*SPUN_MANGLED, "Okonkow"])
    _assert_clean(tab)
