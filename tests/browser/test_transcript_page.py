"""transcript.html in a real headless Chromium: no console errors, no request beyond the
page itself, search, click-to-seek on an attached recording, the recording beside the
page, the other transcript shapes, and the opening time of a 4-hour page.

Run: .venv/bin/pytest -q tests/browser (skips without chromium unless CI is set).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.transcripts import scaled_transcript_bytes
from tests.browser.conftest import build_page, console_errors, in_ci, requested_urls
from tests.conftest import REPO
from transcription_pipeline.transcript import Item, Transcript, parse_transcript

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:
    if in_ci():
        raise
    pytest.skip("selenium is not installed (requirements-dev.txt)", allow_module_level=True)

SAMPLE_MEDIA = REPO / "samples" / "sample-talk.mp4"  # 15 s, H.264 + AAC
SAMPLE_TEXT = REPO / "samples" / "sample-talk.txt"
ARTIFACTS = REPO / "build" / "test-artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "transcript-page.png"
SPEAKERS_FIXTURE = "03-speaker-identification.json"
NAMES = ("Ana", "Ben", "Cy")
OPEN_BUDGET_SECONDS = 10.0  # generous: the budget is 2 s, measured and reported below


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll until condition() is truthy; its value, or a failure after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def open_page(driver: Any, path: Path) -> str:
    url = path.as_uri()
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
    return url


def sample_talk_transcript() -> Transcript:
    """The sample clip's script as a transcript whose words fall inside its 15 s, built by
    hand (no Transcribe here): words spread evenly from 0.5 s to 14.5 s."""
    tokens = re.findall(r"[\w']+|[.,]", SAMPLE_TEXT.read_text(encoding="utf-8"))
    spoken = [token for token in tokens if token not in ".,"]
    step = 14.0 / len(spoken)
    items: list[Item] = []
    index = 0
    for token in tokens:
        if token in ".,":
            items.append(Item("punctuation", token, None, None, 0.0, None))
            continue
        start = round(0.5 + index * step, 2)
        items.append(Item("pronunciation", token, start, round(start + step * 0.8, 2), 0.99, None))
        index += 1
    text = " ".join(item.content for item in items)
    return Transcript("sample-talk", tuple(items), text, "en-US", None, None, False)


def attach(driver: Any, media: Path) -> None:
    """Choose the recording in the page's file picker and wait for its metadata."""
    driver.find_element(By.ID, "media-file").send_keys(str(media))
    wait_for(
        lambda: driver.execute_script(
            "const v = document.getElementById('player'); return v.readyState >= 1 && !v.hidden"
        ),
        what="the attached recording to load",
    )


def current_time(driver: Any) -> float:
    return float(driver.execute_script("return document.getElementById('player').currentTime"))


def test_fixture_page_loads_without_errors_or_other_requests(chromium: Any, tmp_path: Path) -> None:
    url = open_page(chromium, build_page(tmp_path, SPEAKERS_FIXTURE, names=NAMES))

    assert console_errors(chromium) == []
    urls = requested_urls(chromium)
    assert url in urls
    assert [u for u in urls if u != url and not u.startswith(("data:", "blob:"))] == []
    # The speakers by name, each with one colour, and words carrying their times.
    who = {e.text for e in chromium.find_elements(By.CSS_SELECTOR, "#turns .who")}
    assert who == set(NAMES)
    colours = chromium.execute_script(
        "const seen = {};"
        "for (const e of document.querySelectorAll('#turns .who'))"
        "  (seen[e.textContent] ||= new Set()).add(getComputedStyle(e).color);"
        "return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v]]));"
    )
    assert all(len(values) == 1 for values in colours.values())
    assert len({values[0] for values in colours.values()}) == len(NAMES)
    assert chromium.execute_script("return document.querySelectorAll('#turns span[data-t]').length")
    # Chapter links lead to their headings in the transcript.
    link = chromium.find_element(By.CSS_SELECTOR, ".chapters a")
    assert chromium.find_element(By.CSS_SELECTOR, link.get_attribute("hash")).tag_name == "h3"
    # The Content-Security-Policy is in force: a request to another host is refused.
    refused = chromium.execute_async_script(
        "const done = arguments[0];"
        "document.addEventListener('securitypolicyviolation', e => done(e.blockedURI));"
        "new Image().src = 'https://example.com/pixel.png';"
    )
    assert refused == "https://example.com/pixel.png"
    chromium.get_log("browser")  # that refusal's own console report
    # Keyboard: the first Tab reaches the skip link, and focus is drawn.
    chromium.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = chromium.switch_to.active_element
    assert focused.get_attribute("class") == "skip"
    assert focused.value_of_css_property("outline-style") == "solid"
    # Print: no player or search, black text.
    chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not chromium.find_element(By.CSS_SELECTOR, ".bar").is_displayed()
        who = chromium.find_element(By.CSS_SELECTOR, "#turns .who")
        assert who.value_of_css_property("color") == "rgba(0, 0, 0, 1)"
    finally:
        chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_search_marks_matches_and_steps_through_them(chromium: Any, tmp_path: Path) -> None:
    open_page(chromium, build_page(tmp_path, SPEAKERS_FIXTURE, names=NAMES))
    box = chromium.find_element(By.ID, "search")
    count = chromium.find_element(By.ID, "search-count")

    box.send_keys("continual")  # "continual admissions", "continual evolution"
    wait_for(lambda: count.text == "1 of 2", what="the match count")
    marks = chromium.find_elements(By.CSS_SELECTOR, "#turns mark")
    assert [m.text.lower() for m in marks] == ["continual", "continual"]
    box.send_keys(Keys.ENTER)
    assert count.text == "2 of 2"
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    assert count.text == "1 of 2"

    # A phrase across word spans is one match, marked word by word.
    box.clear()
    box.send_keys("her FOOT slipped on the ice")
    wait_for(lambda: count.text == "1 of 1", what="the phrase's match count")
    current = chromium.execute_script(
        "return [...document.querySelectorAll('#turns mark.cur')].map(m => m.textContent).join('')"
    )
    assert current == "her foot slipped on the ice"
    box.clear()
    box.send_keys("no such words here")
    wait_for(lambda: count.text == "No matches")
    assert chromium.find_elements(By.CSS_SELECTOR, "#turns mark") == []
    assert console_errors(chromium) == []


def test_clicks_seek_the_attached_recording(chromium: Any, tmp_path: Path) -> None:
    page = build_page(tmp_path, sample_talk_transcript(), media_name="sample-talk.mp4")
    open_page(chromium, page)
    attach(chromium, SAMPLE_MEDIA)
    duration = chromium.execute_script("return document.getElementById('player').duration")
    assert abs(duration - 15) < 1

    word = next(
        w
        for w in chromium.find_elements(By.CSS_SELECTOR, "#turns span[data-t]")
        if float(w.get_attribute("data-t")) > 9
    )
    word_time = float(word.get_attribute("data-t"))
    word.click()
    assert abs(current_time(chromium) - word_time) < 1.0
    chromium.execute_script("document.getElementById('player').pause()")
    # The word being said is the one marked as current.
    now = wait_for(lambda: chromium.find_elements(By.CSS_SELECTOR, "#turns .now"))
    assert 0 <= current_time(chromium) - float(now[0].get_attribute("data-t")) < 1.0

    stamp = chromium.find_elements(By.CSS_SELECTOR, "#turns button.ts")[-1]
    stamp_time = float(stamp.get_attribute("data-t"))
    stamp.click()
    assert abs(current_time(chromium) - stamp_time) < 1.0
    # Keyboard: k pauses and plays again when not typing.
    chromium.find_element(By.TAG_NAME, "h1").click()
    paused = "return document.getElementById('player').paused"
    chromium.find_element(By.TAG_NAME, "body").send_keys("k")
    assert wait_for(lambda: chromium.execute_script(paused) is True, what="k to pause")
    chromium.find_element(By.TAG_NAME, "body").send_keys("k")
    assert wait_for(lambda: chromium.execute_script(paused) is False, what="k to play")
    chromium.execute_script("document.getElementById('player').pause()")

    assert console_errors(chromium) == []
    urls = requested_urls(chromium)
    assert [u for u in urls if u != page.as_uri() and not u.startswith(("data:", "blob:"))] == []


def test_the_recording_beside_the_page_plays_on_the_first_click(
    chromium: Any, tmp_path: Path
) -> None:
    shutil.copy(SAMPLE_MEDIA, tmp_path / "sample-talk.mp4")
    page = build_page(tmp_path, sample_talk_transcript(), media_name="sample-talk.mp4")
    open_page(chromium, page)
    assert requested_urls(chromium) == [(tmp_path / "transcript.html").as_uri()]  # not yet

    stamp = chromium.find_elements(By.CSS_SELECTOR, "#turns button.ts")[-1]
    stamp.click()
    wait_for(lambda: abs(current_time(chromium) - float(stamp.get_attribute("data-t"))) < 1.0)
    assert chromium.find_element(By.ID, "player").is_displayed()
    assert console_errors(chromium) == []


def test_no_recording_beside_the_page_offers_the_file_picker(chromium: Any, tmp_path: Path) -> None:
    open_page(chromium, build_page(tmp_path, sample_talk_transcript(), media_name="absent.mp4"))
    chromium.find_elements(By.CSS_SELECTOR, "#turns button.ts")[0].click()
    status = chromium.find_element(By.ID, "player-status")
    wait_for(lambda: status.text.startswith("Attach the recording to play from 00:00"))
    assert not chromium.find_element(By.ID, "player").is_displayed()
    assert chromium.switch_to.active_element.get_attribute("id") == "media-file"
    # The one error is the browser's own note of the missing file, after the click.
    errors = console_errors(chromium)
    assert [e for e in errors if "absent.mp4" not in e["message"]] == []


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """tmp_path over HTTP, as S3 serves a presigned URL: the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_served_like_a_presigned_url(chromium: Any, tmp_path: Path, served: str) -> None:
    shutil.copy(SAMPLE_MEDIA, tmp_path / "sample-talk.mp4")
    build_page(tmp_path, sample_talk_transcript(), media_name="sample-talk.mp4")
    url = served + "transcript.html?X-Amz-Expires=3600&X-Amz-Signature=abc"
    chromium.get(url)
    wait_for(lambda: chromium.execute_script("return document.readyState") == "complete")
    assert requested_urls(chromium) == [url]  # no favicon, nothing else
    # The recording beside the page comes from the same origin ('self' in the policy).
    chromium.find_elements(By.CSS_SELECTOR, "#turns button.ts")[0].click()
    wait_for(lambda: chromium.find_element(By.ID, "player").is_displayed(), what="the player")
    assert requested_urls(chromium)[0] == served + "sample-talk.mp4"
    assert console_errors(chromium) == []


@pytest.mark.parametrize(
    "fixture",
    [
        "v4-empty.json",
        "01-plain.json",
        "02-channel-identification.json",
        "v6-pii-redaction.json",
    ],
)
def test_other_transcripts_render_without_errors(
    chromium: Any, tmp_path: Path, fixture: str
) -> None:
    url = open_page(chromium, build_page(tmp_path, fixture))
    assert console_errors(chromium) == []
    assert [u for u in requested_urls(chromium) if u != url] == []
    body = chromium.find_element(By.TAG_NAME, "body").text
    if fixture == "v4-empty.json":
        assert "No speech was detected in this recording." in body
        assert chromium.find_elements(By.ID, "player") == []
    else:
        assert chromium.find_elements(By.CSS_SELECTOR, "#turns span[data-t]")
    if fixture == "v6-pii-redaction.json":
        assert "[PII]" in body
        assert "Redacted" in body
    if fixture == "02-channel-identification.json":
        assert {e.text for e in chromium.find_elements(By.CSS_SELECTOR, "#turns .who")} == {
            "ch_0",
            "ch_1",
        }


def test_a_four_hour_page_opens_within_budget(chromium: Any, tmp_path: Path) -> None:
    transcript = parse_transcript(scaled_transcript_bytes(4 * 3600))
    page = build_page(tmp_path, transcript, names=NAMES)
    open_page(chromium, page)
    timing = chromium.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
        " words: document.querySelectorAll('#turns span[data-t]').length};"
    )
    box = chromium.find_element(By.ID, "search")
    started = time.perf_counter()
    box.send_keys("continual", Keys.ENTER)
    count = chromium.find_element(By.ID, "search-count")
    expected = f" of {transcript.text.lower().count('continual'):,}"
    wait_for(lambda: count.text.endswith(expected), what="the 4-hour search")
    search_seconds = time.perf_counter() - started
    result = {
        "html_bytes": page.stat().st_size,
        "words": timing["words"],
        "dom_content_loaded_ms": round(timing["dom"]),
        "load_event_end_ms": round(timing["load"]),
        "search_marked_seconds": round(search_seconds, 3),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "transcript-page-4h-timing.json").write_text(json.dumps(result, indent=2))
    print(f"4-hour transcript.html in Chromium: {result}")
    assert timing["words"] == sum(1 for item in transcript.items if item.kind == "pronunciation")
    assert timing["load"] / 1000 < OPEN_BUDGET_SECONDS
    assert console_errors(chromium) == []


def test_screenshot_with_media_and_search(chromium: Any, tmp_path: Path) -> None:
    open_page(chromium, build_page(tmp_path, SPEAKERS_FIXTURE, names=NAMES))
    attach(chromium, SAMPLE_MEDIA)
    box = chromium.find_element(By.ID, "search")
    box.send_keys("light")
    count = chromium.find_element(By.ID, "search-count")
    wait_for(lambda: count.text.startswith("1 of "), what="the search")
    chromium.execute_script("window.scrollTo(0, 0)")
    png = full_page_png(chromium)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "transcript-page.png").write_bytes(png)
    assert png.startswith(b"\x89PNG")
    # The README's copy is written once (or again with UPDATE_DOCS_SCREENSHOT=1), so a
    # test run does not leave the repository changed.
    if not DOCS_SCREENSHOT.exists() or os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        DOCS_SCREENSHOT.write_bytes(full_page_png(chromium, scale=0.6))
    assert console_errors(chromium) == []


def full_page_png(driver: Any, scale: float = 1.0) -> bytes:
    """The whole page, not only the viewport (Chrome DevTools Page.captureScreenshot)."""
    size = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": scale},
        },
    )
    return base64.b64decode(shot["data"])
