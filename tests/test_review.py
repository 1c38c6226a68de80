"""The review page: `newsdesk review` run as a real process, read in a real headless Chromium.

The browser tests need Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and the
`selenium` package (the test extra); without them they skip and say which is missing.
"""

from __future__ import annotations

import datetime as dt
import os
import selectors
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from audit_support import HARBOUR, MONGOLIA, SCRIPTED, ingest_corpus, make_settings, open_chunks

from newsdesk.articles import Article
from newsdesk.audit import AuditStore, StoredCitation
from newsdesk.cli import main
from newsdesk.engine import Engine
from newsdesk.review import answer_segments, is_loopback, place_passage

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TOKEN = "a-long-random-review-token-4f1c"

PIER = Article(
    id="pier-notice-2023",
    title="Pier closed to walkers during repairs",
    source="Coastal Herald",
    published=dt.date(2023, 2, 20),
    text="The old pier is closed to walkers until the storm repairs are finished, the harbour master said.",
)
HARBOUR_REWRITTEN = HARBOUR.model_copy(update={
    "text": "Ferry crossings restarted this week. The council has not said what the repairs cost."})
QUESTIONS = {
    "sim": "Where are volunteers offering SIM cards?",
    "ferry": "When did the harbour ferry resume?",
    "script": "What did the web page carry?",
    "pier": "Why is the pier closed to walkers?",
    "refused": "Who won the 1930 World Cup?",
}


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)"
    if not CHROMEDRIVER.exists():
        return f"{CHROMEDRIVER} is missing (apt-get install chromium-driver; .ci/run does it)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing (pip install -e '.[test]')"
    return None


needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


# -- the trail: real answers, then the index changes under them -------------------------------------

@pytest.fixture(scope="module")
def trail(tmp_path_factory, embedder) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path_factory.mktemp("review") / "data"
    settings = make_settings(data_dir)
    ingest_corpus(settings, [MONGOLIA, HARBOUR, SCRIPTED, PIER], embedder=embedder)
    engine = Engine(settings, embedder=embedder)
    ids: dict[str, str] = {}
    with AuditStore.from_settings(settings) as store:
        for n, (name, question) in enumerate(QUESTIONS.items()):
            result = engine.ask(question)
            assert result.refused == (name == "refused"), (question, result.answer)
            ids[name] = store.record_answer(result, front_end="discord" if n % 2 == 0 else "cli",
                                            asker_id=str(500 + n), asker_name=f"asker {n} <b>bold</b>")
        store.set_feedback(ids["ferry"], "900", -1)
        store.set_feedback(ids["sim"], "900", +1)
    # After the answers: one article is rewritten, another removed from the index.
    from newsdesk.ingestion import Ingestor

    Ingestor(settings, embedder=embedder).ingest_articles([HARBOUR_REWRITTEN])
    chunks = open_chunks(settings)
    chunks.delete(chunks.article_states()[PIER.id].all_ids())
    chunks.delete_articles([PIER.id])
    return data_dir, ids


class ReviewServer:
    """`python -m newsdesk review --port 0` in its own process; its address read from what it prints."""

    def __init__(self, data_dir: Path, token: str | None = None):
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEW_", "NEWSDESK_"))}
        environment["PYTHONPATH"] = str(REPO)
        if token:
            environment["REVIEW_TOKEN"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsdesk", "review", "--port", "0", "--data-dir", str(data_dir)],
            cwd=data_dir.parent, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self._read_address()

    def _read_address(self) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=180):  # a safety net, not a timing: the line comes at start-up
            self.stop()
            pytest.fail("newsdesk review printed no address")
        line = self.process.stdout.readline()
        if not line.startswith("Review page: http://"):
            self.process.wait(timeout=30)
            pytest.fail(f"newsdesk review did not start: {line!r} {self.process.stderr.read()}")
        return line.split()[2]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


@pytest.fixture(scope="module")
def server(trail):
    running = ReviewServer(trail[0])
    yield running
    assert running.stop() == 0  # SIGTERM shuts it down cleanly


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = browser_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def click_and_load(driver, element, url_part: str) -> None:
    """Click a link or a submit button and wait for the page it opens: a click returns before
    the new page may have loaded, and reading the rows then can find none."""
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(driver, 30).until(
        lambda d: url_part in d.current_url and d.execute_script("return document.readyState") == "complete")


def rows(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.get_attribute("data-id") for row in driver.find_elements(By.CSS_SELECTOR, "tr.answer-row")]


# -- in the browser ----------------------------------------------------------------------------------

@needs_browser
def test_the_list_renders_every_answer_newest_first(browser, server, trail):
    from selenium.webdriver.common.by import By

    _, ids = trail
    browser.get(server.url)
    assert browser.title == "Answers · newsdesk review"
    assert rows(browser) == [ids[k] for k in ("refused", "pier", "script", "ferry", "sim")]
    assert browser.find_element(By.ID, "count").text == "1–5 of 5 answers"
    first = browser.find_element(By.CSS_SELECTOR, f"tr[data-id='{ids['sim']}']")
    assert QUESTIONS["sim"] in first.text and "asker 0 <b>bold</b> (500)" in first.text


@needs_browser
def test_filters_narrow_the_list(browser, server, trail):
    from selenium.webdriver.common.by import By

    _, ids = trail
    browser.get(server.url)
    browser.find_element(By.NAME, "flagged").click()
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"), "flagged=1")
    assert rows(browser) == [ids["ferry"]]
    assert "flagged=1" in browser.current_url

    browser.get(server.url)
    browser.find_element(By.NAME, "user").send_keys("502")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"), "user=502")
    assert rows(browser) == [ids["script"]]

    browser.get(server.url + "answers/" + ids["sim"])
    click_and_load(browser, browser.find_element(By.LINK_TEXT, MONGOLIA.id), MONGOLIA.id)  # every answer citing it
    assert rows(browser) == [ids["sim"]]

    browser.get(server.url + "?since=not+a+date")
    assert "since:" in browser.find_element(By.ID, "errors").text and rows(browser) == []


@needs_browser
def test_a_passage_is_highlighted_inside_its_full_article(browser, server, trail):
    from selenium.webdriver.common.by import By

    data_dir, ids = trail
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        cited = store.get_answer(ids["sim"]).citations[0]
    assert cited.start > 0  # a passage from the middle of its article

    browser.get(server.url)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f"tr[data-id='{ids['sim']}'] td.question a"),
                   ids["sim"])
    assert browser.find_element(By.ID, "question").text == QUESTIONS["sim"]
    section = browser.find_element(By.ID, "citation-1")
    assert section.get_attribute("data-status") == "same"
    article = section.find_element(By.CSS_SELECTOR, ".article-text")
    mark = article.find_element(By.CSS_SELECTOR, "mark.passage")
    assert article.get_attribute("textContent") == MONGOLIA.text
    assert mark.get_attribute("textContent") == cited.text == MONGOLIA.text[cited.start:cited.end]
    before = browser.execute_script(
        "const article = arguments[0], mark = arguments[1];"
        "const range = document.createRange(); range.setStart(article, 0); range.setEndBefore(mark);"
        "return range.toString().length;", article, mark)
    assert before == cited.start
    assert mark.value_of_css_property("background-color") == "rgba(255, 241, 168, 1)"
    # Side by side: the passage as cited on the left, the article on the right, level with it.
    passage_pane = section.find_element(By.CSS_SELECTOR, ".passage-text")
    assert passage_pane.get_attribute("textContent") == cited.text
    assert passage_pane.rect["x"] + passage_pane.rect["width"] <= article.rect["x"]
    assert abs(passage_pane.rect["y"] - article.rect["y"]) < 40
    # The [1] marker in the answer links to the highlight.
    assert browser.find_element(By.CSS_SELECTOR, "#answer a").get_attribute("href").endswith("#passage-1")


@needs_browser
def test_script_in_an_article_renders_as_text_and_never_runs(browser, server, trail):
    from selenium.webdriver.common.by import By

    _, ids = trail
    browser.get(server.url + "answers/" + ids["script"])
    article = browser.find_element(By.CSS_SELECTOR, "#citation-1 .article-text")
    assert "<script>document.title = 'pwned'; window.__pwned = 1;</script>" in article.text
    assert '<img src=x onerror="window.__pwned = 2">' in article.text
    assert browser.find_element(By.CSS_SELECTOR, "#citation-1 h3").text == f"[1] {SCRIPTED.title}"
    assert browser.title != "pwned"
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.scripts.length + document.images.length") == 0


@needs_browser
def test_a_changed_or_removed_article_is_reported_and_the_passage_still_shown(browser, server, trail):
    from selenium.webdriver.common.by import By

    data_dir, ids = trail
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        ferry = store.get_answer(ids["ferry"]).citations[0]
        pier = store.get_answer(ids["pier"]).citations[0]

    browser.get(server.url + "answers/" + ids["ferry"])
    section = browser.find_element(By.ID, "citation-1")
    assert section.get_attribute("data-status") == "changed"
    assert "no longer contains the cited passage" in section.find_element(By.CSS_SELECTOR, ".status").text
    assert section.find_element(By.CSS_SELECTOR, ".passage-text").get_attribute("textContent") == ferry.text
    assert section.find_element(By.CSS_SELECTOR, ".article-text").text == HARBOUR_REWRITTEN.text
    assert section.find_elements(By.CSS_SELECTOR, "mark") == []

    browser.get(server.url + "answers/" + ids["pier"])
    section = browser.find_element(By.ID, "citation-1")
    assert section.get_attribute("data-status") == "removed"
    assert "removed from the index" in section.find_element(By.CSS_SELECTOR, ".status").text
    assert section.find_element(By.CSS_SELECTOR, ".passage-text").get_attribute("textContent") == pier.text == \
        PIER.text


@needs_browser
def test_with_a_token_every_request_must_carry_it(browser, trail):
    from selenium.webdriver.common.by import By

    data_dir, ids = trail
    guarded = ReviewServer(data_dir, token=TOKEN)
    try:
        browser.delete_all_cookies()
        browser.get(guarded.url)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Token required"
        assert rows(browser) == []
        browser.get(guarded.url + "answers/" + ids["sim"] + "?token=wrong")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Token required"

        browser.get(guarded.url + "?token=" + TOKEN + "&flagged=1")
        assert "token" not in browser.current_url and "flagged=1" in browser.current_url
        assert rows(browser) == [ids["ferry"]]
        browser.get(guarded.url + "answers/" + ids["sim"])  # the cookie carries it now
        assert browser.find_element(By.ID, "question").text == QUESTIONS["sim"]

        assert http_status(guarded.url) == 401
        assert http_status(guarded.url + "answers/" + ids["sim"]) == 401
        assert http_status(guarded.url, {"X-Review-Token": "nope"}) == 401
        assert http_status(guarded.url, {"X-Review-Token": TOKEN}) == 200
        assert http_status(guarded.url, {"Authorization": f"Bearer {TOKEN}"}) == 200
    finally:
        assert guarded.stop() == 0


# -- over plain HTTP and in-process -----------------------------------------------------------------

def http_status(url: str, headers: dict | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_page_is_read_only_and_sends_strict_headers(server, trail):
    _, ids = trail
    assert http_status(server.url, method="POST") == 405
    assert http_status(server.url + "answers/" + ids["sim"], method="DELETE") == 405
    assert http_status(server.url + "answers/nosuchanswer") == 404
    with urllib.request.urlopen(server.url, timeout=60) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_binding_beyond_loopback_needs_a_token(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REVIEW_TOKEN", raising=False)
    assert main(["review", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "data")]) == 2
    assert "set REVIEW_TOKEN" in capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


V1, V2 = "1" * 64, "2" * 64  # article hashes; chunk ids carry their first 16 characters


def citation(text: str, start: int | None, end: int | None, version: str = V1) -> StoredCitation:
    return StoredCitation(n=1, article_id="a", chunk_id=f"key:{version[:16]}:0", text=text, start=start, end=end)


def test_placing_a_passage_in_the_article_as_it_is_now():
    text = MONGOLIA.text
    start = text.index("More than 3,000")
    end = text.index("announced.") + len("announced.")
    passage = text[start:end]

    same = place_passage(citation(passage, start, end), (text, {"article_hash": V1}))
    assert (same.status, same.message, same.before + same.passage + same.after) == ("same", None, text)
    updated = place_passage(citation(passage, start, end), (text, {"article_hash": V2}))
    assert updated.status == "same" and "updated since" in updated.message

    moved_text = "Correction appended at the top.\n\n" + text
    moved = place_passage(citation(passage, start, end), (moved_text, {}))
    assert moved.status == "moved" and moved.passage == passage and len(moved.before) == start + 33

    changed = place_passage(citation(passage, start, end), (text.replace("3,000", "2,000"), {}))
    assert changed.status == "changed" and not changed.highlighted and "3,000" not in changed.article_text
    assert place_passage(citation(passage, start, end), None).status == "removed"


def test_answer_markers_become_links_only_for_real_citations():
    segments = answer_segments("A [1] and B [2], not [7].", {1, 2})
    assert segments == [("A ", None), ("[1]", 1), (" and B ", None), ("[2]", 2), (", not [7].", None)]
