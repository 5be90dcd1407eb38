"""A real headless Chromium for the browser tests, and the pages they open.

    from tests.browser.conftest import build_page, console_errors, in_ci, requested_urls

Chromium and its driver are Debian's (``apt-get install -y chromium chromium-driver``),
selenium is the pip package of requirements-dev.txt. Without them the tests skip, unless
CI is set: there a missing browser fails, so the browser tests cannot silently vanish.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TRANSCRIPTS
from transcription_pipeline.scripts import writing_system
from transcription_pipeline.summary import Summary, summarise
from transcription_pipeline.transcript import Transcript, parse_transcript
from transcription_pipeline.transcript_page import render_transcript_page
from transcription_pipeline.turns import Turn, turns_of
from transcription_pipeline.words import group_words, name_speakers, speakers_in_order

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 900)


def in_ci() -> bool:
    """CI is set (GitHub Actions and most CI services set CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session, logging the console and the network."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -r requirements-dev.txt)")
    binary = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _unavailable("no chromium/chromedriver (apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--mute-audio",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # The driver path is given, so Selenium Manager never tries to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def chromium(browser: Any) -> Any:
    """The session's browser with its console and network logs emptied for this test."""
    browser.get("about:blank")
    browser.get_log("browser")
    browser.get_log("performance")
    return browser


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """Console entries since the last call that are errors (SEVERE), CSP reports included."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (Network.requestWillBeSent)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def page_parts(
    transcript: Transcript, names: Sequence[str] = ()
) -> tuple[Summary, tuple[Turn, ...]]:
    """The summary and turns of a transcript, as the pipeline makes them."""
    words = group_words(transcript.items)
    mapping = dict(zip(speakers_in_order(words), names, strict=False))
    words = name_speakers(words, mapping)
    writing = writing_system(transcript.language_code)
    summary = summarise(
        transcript,
        words,
        source_bucket="input",
        source_key="uploads/recording.mp4",
        created_at="2026-01-01T00:00:00Z",
        speaker_names=mapping or None,
        writing=writing,
    )
    return summary, turns_of(words, transcript.labels)


def build_page(
    folder: Path,
    transcript: Transcript | str,
    *,
    names: Sequence[str] = (),
    media_name: str = "recording.mp4",
) -> Path:
    """transcript.html for a Transcript (or a fixture's file name) written into folder."""
    if isinstance(transcript, str):
        transcript = parse_transcript((TRANSCRIPTS / transcript).read_bytes())
    summary, turns = page_parts(transcript, names)
    html = render_transcript_page(
        summary,
        turns,
        writing=writing_system(transcript.language_code),
        media_name=media_name,
    )
    path = folder / "transcript.html"
    path.write_text(html, encoding="utf-8")
    return path
