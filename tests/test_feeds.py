"""Feeds and article pages, end to end against a real HTTP server on 127.0.0.1 started by the tests.

Real parts throughout: the httpx fetcher, feedparser, trafilatura, the embedding
model and a Chroma store in a temporary data directory. The feeds and pages are
the files in tests/data/feeds/, with `{base}` replaced by the server's address.
Retry backoff is shortened to milliseconds; nothing else is faked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from newsdesk.articles import ArticleError
from newsdesk.cli import main
from newsdesk.config import Settings
from newsdesk.feeds import (SUMMARY_NOTE, FeedError, FeedPoller, canonical_url, extract_page,
                            ingest_sources, parse_duration, parse_feed, watch)
from newsdesk.fetching import Fetcher, FetchError, FetchPolicy
from newsdesk.ingestion import Ingestor
from newsdesk.pages import StoredPage
from newsdesk.store import ChunkStore, article_key

DATA = Path(__file__).parent / "data" / "feeds"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST_RETRIES = (0.01, 0.02)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


# -- a small news site on 127.0.0.1 ----------------------------------------------------------

@dataclass
class Route:
    file: str | None = None
    body: bytes | None = None
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    fail_times: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    hang: bool = False
    stream: bool = False
    gate: asyncio.Event | None = None


@dataclass
class Seen:
    path: str
    path_qs: str
    headers: dict[str, str]


@dataclass
class Site:
    """Serves `routes`; records every request; `arrived(path)` is set when a path is first asked for."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    base: str = ""

    async def start(self) -> "Site":
        self.release = asyncio.Event()
        self._arrived: dict[str, asyncio.Event] = {}
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.port = port
        self.base = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()

    def url(self, path: str) -> str:
        return self.base + path

    def arrived(self, path: str) -> asyncio.Event:
        return self._arrived.setdefault(path, asyncio.Event())

    def count(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path, request.path_qs, dict(request.headers)))
        self.arrived(request.path).set()
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such page")
        self.in_flight += 1
        try:
            if route.gate is not None:
                await route.gate.wait()
            if route.hang:
                await self.release.wait()
                return web.Response(status=503)
            if route.fail_times > 0:
                route.fail_times -= 1
                waits = {"Retry-After": route.retry_after} if route.retry_after else {}
                return web.Response(status=route.fail_status, text="temporary trouble", headers=waits)
            if route.status != 200:
                return web.Response(status=route.status, text="error")
            validators = {}
            if route.etag:
                validators["ETag"] = route.etag
            if route.last_modified:
                validators["Last-Modified"] = route.last_modified
            if (route.etag and request.headers.get("If-None-Match") == route.etag) or \
                    (route.last_modified and request.headers.get("If-Modified-Since") == route.last_modified):
                return web.Response(status=304, headers=validators)
            body = route.body if route.body is not None else \
                (DATA / route.file).read_text().replace("{base}", self.base).encode()
            headers = {"Content-Type": route.content_type, **validators}
            if not route.stream:
                return web.Response(body=body, headers=headers)
            response = web.StreamResponse(headers=headers)
            await response.prepare(request)
            try:
                for start in range(0, len(body), 4096):
                    await response.write(body[start:start + 4096])
            except ConnectionError:
                pass
            return response
        finally:
            self.in_flight -= 1


@pytest.fixture
async def site():
    server = await Site().start()
    yield server
    await server.stop()


@pytest.fixture
async def other_site():
    """A second site, on its own port: another site as robots.txt sees it."""
    server = await Site().start()
    yield server
    await server.stop()


@pytest.fixture
def feed_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"fetch_timeout_seconds": 5.0, "fetch_max_bytes": 20_000,
                                       "fetch_per_host": 2})


def fast_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy.from_settings(settings, retry_delays=FAST_RETRIES)


def make_poller(settings: Settings, embedder) -> FeedPoller:
    return FeedPoller(settings, Ingestor(settings, embedder), policy=fast_policy(settings))


def indexed(settings: Settings, embedder) -> dict[str, list[tuple[str, dict, str]]]:
    """article id -> its chunks (id, metadata, text), read back out of Chroma."""
    store = ChunkStore.open(settings, embedder.model_name, embedder.dimension, create=False)
    chunks: dict[str, list[tuple[str, dict, str]]] = {}
    for chunk_id, meta, document in store.iter_chunks(include=["metadatas", "documents"]):
        chunks.setdefault(meta["article_id"], []).append((chunk_id, meta, document))
    return chunks


def article_text(chunks: list[tuple[str, dict, str]]) -> str:
    return " ".join(document for _, _, document in sorted(chunks, key=lambda c: c[1]["chunk_index"]))


def gazette(site: Site) -> None:
    site.routes.update({
        "/news.rss": Route(file="news.rss", content_type="application/rss+xml", etag='"news-1"'),
        "/news/bridge": Route(file="bridge.html", etag='"bridge-1"'),
        "/news/ferry": Route(file="ferry.html"),
    })


def huge_page() -> bytes:
    paragraph = b"<p>The quarry museum has put ten thousand photographs online for everyone to see.</p>\n"
    return b"<html><body><article>" + paragraph * 400 + b"</article></body></html>"


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- polling feeds ------------------------------------------------------------------------

async def test_new_entries_are_ingested_once_and_an_unchanged_feed_costs_one_304(
        site, feed_settings, embedder):
    gazette(site)
    site.routes["/world.atom"] = Route(file="world.atom", content_type="application/atom+xml",
                                       last_modified="Wed, 06 Mar 2024 09:00:00 GMT")
    site.routes["/courier/lighthouse"] = Route(file="lighthouse.html")
    poller = make_poller(feed_settings, embedder)
    feeds = [site.url("/news.rss"), site.url("/world.atom")]

    first = await poller.poll(feeds)

    assert first.summary.failures == []
    assert first.summary.articles.new == 3
    assert first.line() == "3 new articles"
    bridge, ferry, lighthouse = (site.url("/news/bridge"), site.url("/news/ferry"),
                                 site.url("/courier/lighthouse"))
    index = indexed(feed_settings, embedder)
    # The bridge's id is its canonical URL, not the feed's link with tracking parameters; the
    # lighthouse page's canonical link points at the home page, so its own URL is kept.
    assert set(index) == {bridge, ferry, lighthouse}
    meta = index[bridge][0][1]
    assert (meta["title"], meta["source"], meta["author"], meta["published"], meta["url"]) == (
        "Harbour bridge reopens after repairs", "Coast Gazette", "Mira Holt", "2024-03-05", bridge)
    assert "after eight months of repairs" in article_text(index[bridge])
    assert "newsletter" not in article_text(index[bridge])
    assert index[ferry][0][1]["author"] == "Tomas Reyes"
    assert index[lighthouse][0][1]["source"] == "North Sea Courier"
    assert all(seen.headers["User-Agent"].startswith("newsdesk/") for seen in site.requests)

    pages = feed_settings.data_dir / "web" / "pages"
    key = article_key(bridge)
    assert b"after eight months of repairs" in (pages / f"{key}.html").read_bytes()
    stored = StoredPage.model_validate_json((pages / f"{key}.json").read_text())
    assert stored.fetched_url == site.url("/news/bridge?utm_source=rss&utm_medium=feed")
    assert stored.feed == site.url("/news.rss") and stored.summary_only is None
    assert (pages / f"{key}.txt").read_text().startswith("Harbour bridge reopens after repairs\n")

    chunk_ids = {chunk[0] for chunks in index.values() for chunk in chunks}
    before = len(site.requests)
    second = await poller.poll(feeds)

    asked = site.requests[before:]
    assert sorted(seen.path for seen in asked) == ["/news.rss", "/world.atom"]
    headers = {seen.path: seen.headers for seen in asked}
    assert headers["/news.rss"]["If-None-Match"] == '"news-1"'
    assert headers["/world.atom"]["If-Modified-Since"] == "Wed, 06 Mar 2024 09:00:00 GMT"
    assert [feed.status for feed in second.feeds] == ["not modified", "not modified"]
    assert second.summary.chunks.embedded == 0
    assert not second.changed
    assert second.line() == "no new articles"
    assert {chunk[0] for chunks in indexed(feed_settings, embedder).values() for chunk in chunks} == chunk_ids


async def test_a_corrected_article_replaces_its_chunks_and_unchanged_entries_are_not_fetched(
        site, feed_settings, embedder):
    gazette(site)
    poller = make_poller(feed_settings, embedder)
    feed = site.url("/news.rss")
    await poller.poll([feed])
    bridge = site.url("/news/bridge")
    old_ids = {chunk[0] for chunk in indexed(feed_settings, embedder)[bridge]}

    site.routes["/news.rss"] = Route(file="news-corrected.rss", content_type="application/rss+xml",
                                     etag='"news-2"')
    site.routes["/news/bridge"] = Route(file="bridge-corrected.html", etag='"bridge-2"')
    site.routes["/news/school"] = Route(file="school.html")
    before = len(site.requests)
    report = await poller.poll([feed])

    counts = report.summary.articles
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 1)
    assert report.line() == "1 new article, 1 updated"
    chunks = indexed(feed_settings, embedder)[bridge]
    assert old_ids.isdisjoint(chunk[0] for chunk in chunks)
    assert len({chunk[1]["article_hash"] for chunk in chunks}) == 1
    text = article_text(chunks)
    assert "after nine months of repairs" in text and "after eight months of repairs" not in text
    asked = site.requests[before:]
    revalidations = [seen.headers.get("If-None-Match") for seen in asked if seen.path == "/news/bridge"]
    assert revalidations == ['"bridge-1"']
    assert "/news/ferry" not in {seen.path for seen in asked}


async def test_a_silent_correction_is_caught_when_the_stored_page_is_rechecked(site, feed_settings, embedder):
    gazette(site)
    feed = site.url("/news.rss")
    await make_poller(feed_settings, embedder).poll([feed])
    # The page is corrected but its feed entry stays the same; the feed changes for another reason.
    site.routes["/news/bridge"] = Route(file="bridge-corrected.html", etag='"bridge-2"')
    site.routes["/news.rss"].etag = '"news-1b"'

    before = len(site.requests)
    within = await make_poller(feed_settings, embedder).poll([feed])
    assert [seen.path for seen in site.requests[before:]] == ["/news.rss"]
    assert within.summary.articles.unchanged == 2

    site.routes["/news.rss"].etag = '"news-1c"'
    policy = FetchPolicy.from_settings(feed_settings, retry_delays=FAST_RETRIES, page_recheck_seconds=0)
    before = len(site.requests)
    rechecked = await FeedPoller(feed_settings, Ingestor(feed_settings, embedder), policy=policy).poll([feed])

    asked = {seen.path: seen.headers for seen in site.requests[before:]}
    assert set(asked) == {"/news.rss", "/robots.txt", "/news/bridge", "/news/ferry"}
    assert asked["/news/bridge"]["If-None-Match"] == '"bridge-1"'
    counts = rechecked.summary.articles
    assert (counts.updated, counts.unchanged) == (1, 1)
    bridge = indexed(feed_settings, embedder)[site.url("/news/bridge")]
    assert "after nine months of repairs" in article_text(bridge)


async def test_broken_feeds_are_reported_and_the_others_still_ingest(site, feed_settings, embedder):
    gazette(site)
    site.routes.update({
        "/down.rss": Route(status=500),
        "/flaky.atom": Route(file="world.atom", content_type="application/atom+xml", fail_times=1),
        "/courier/lighthouse": Route(file="lighthouse.html"),
        "/slow.rss": Route(hang=True),
        "/broken.rss": Route(file="malformed.xml", content_type="application/rss+xml"),
        "/front": Route(file="homepage.html"),
    })
    settings = feed_settings.model_copy(update={"fetch_timeout_seconds": 1.5})
    port = unused_port()
    refused = f"http://reader:s3cret@127.0.0.1:{port}/feed.xml"
    urls = {name: site.url(f"/{name}") for name in ("news.rss", "down.rss", "flaky.atom", "slow.rss",
                                                    "broken.rss", "front")}

    report = await make_poller(settings, embedder).poll([*urls.values(), refused])

    errors = {failure.path: failure.error for failure in report.failures}
    shown = f"http://127.0.0.1:{port}/feed.xml"  # reported without its password
    assert set(errors) == {urls["down.rss"], urls["slow.rss"], urls["broken.rss"], urls["front"], shown}
    assert "HTTP 500 Internal Server Error after 3 attempts" in errors[urls["down.rss"]]
    assert site.count("/down.rss") == 3
    assert "no complete answer within 1.5 s" in errors[urls["slow.rss"]]
    assert "malformed feed" in errors[urls["broken.rss"]]
    assert "HTML page, not an RSS/Atom feed" in errors[urls["front"]]
    assert f"names its feed at {urls['news.rss']}" in errors[urls["front"]]
    assert "connection failed" in errors[shown] and "after 3 attempts" in errors[shown]
    assert "s3cret" not in report.json_summary() + report.describe()
    assert site.count("/flaky.atom") == 2
    assert set(indexed(settings, embedder)) == {site.url("/news/bridge"), site.url("/news/ferry"),
                                                site.url("/courier/lighthouse")}
    assert report.summary.articles.new == 3
    assert report.line() == "3 new articles, 5 feeds failed"

    # A failed feed's validators are not kept: the next poll asks for it in full again.
    site.routes["/down.rss"] = Route(file="news.rss", content_type="application/rss+xml")
    again = await make_poller(settings, embedder).poll([urls["down.rss"]])
    assert again.failures == [] and [feed.status for feed in again.feeds] == ["fetched"]


async def test_an_entry_whose_page_is_gone_falls_back_to_the_feed_summary(site, feed_settings, embedder):
    site.routes.update({
        "/gone.rss": Route(file="gone.rss", content_type="application/rss+xml", etag='"gone-1"'),
        "/valley/quarry": Route(body=huge_page()),
    })
    poller = make_poller(feed_settings, embedder)
    library, quarry = site.url("/valley/library"), site.url("/valley/quarry")

    feed = site.url("/gone.rss")
    report = await poller.poll([feed])

    assert report.summary.failures == []
    assert report.summary.articles.new == 3
    assert {page.url: page.status for page in report.pages} == {
        library: "summary only", quarry: "summary only", feed: "summary only"}  # the last: no link
    assert report.line() == "3 new articles, 3 from the feed's summary only"
    index = indexed(feed_settings, embedder)
    text = article_text(index[library])
    assert text.startswith("The valley library will open until nine in the evening on weekdays.")
    assert text.endswith(SUMMARY_NOTE)
    assert index[library][0][1]["source"] == "Valley Post"
    choir = [chunks for article_id, chunks in index.items() if article_id.startswith(feed + "#")]
    assert len(choir) == 1 and article_text(choir[0]).startswith("The valley choir will open the spring fair")
    pages = feed_settings.data_dir / "web" / "pages"
    stored = StoredPage.model_validate_json((pages / f"{article_key(library)}.json").read_text())
    assert stored.summary_only == "HTTP 404 Not Found" and stored.html_file is None
    stored = StoredPage.model_validate_json((pages / f"{article_key(quarry)}.json").read_text())
    assert "larger than 20,000 bytes" in stored.summary_only

    # The page comes back: the next poll of a changed feed fetches it and replaces the summary.
    site.routes["/valley/library"] = Route(file="library.html")
    site.routes["/gone.rss"].etag = '"gone-2"'
    second = await poller.poll([feed])

    counts = second.summary.articles
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 2)
    text = article_text(indexed(feed_settings, embedder)[library])
    assert "Twelve volunteers have signed up" in text and SUMMARY_NOTE not in text


async def test_pages_over_the_size_cap_are_not_read(site, feed_settings, embedder):
    gazette(site)
    site.routes["/huge"] = Route(body=huge_page())
    site.routes["/huge-streamed"] = Route(body=huge_page(), stream=True)
    urls = [site.url("/huge"), site.url("/huge-streamed"), site.url("/news/bridge?utm_source=x")]

    report = await asyncio.to_thread(ingest_sources, feed_settings, Ingestor(feed_settings, embedder),
                                     urls=urls, policy=fast_policy(feed_settings))

    errors = {failure.path: failure.error for failure in report.failures}
    assert set(errors) == {site.url("/huge"), site.url("/huge-streamed")}
    assert all("larger than 20,000 bytes (FETCH_MAX_BYTES)" in error for error in errors.values())
    assert set(indexed(feed_settings, embedder)) == {site.url("/news/bridge")}
    assert not (feed_settings.data_dir / "web" / "pages" / f"{article_key(site.url('/huge'))}.json").exists()

    # Asked again, the stored page is revalidated: a 304, and nothing embedded.
    before = len(site.requests)
    again = await asyncio.to_thread(ingest_sources, feed_settings, Ingestor(feed_settings, embedder),
                                    urls=urls[2:], policy=fast_policy(feed_settings))
    assert [(seen.path, seen.headers.get("If-None-Match")) for seen in site.requests[before:]] == [
        ("/robots.txt", None), ("/news/bridge", '"bridge-1"')]
    assert [page.status for page in again.pages] == ["not modified"]
    assert again.summary.articles.unchanged == 1 and again.summary.chunks.embedded == 0


async def test_polls_never_overlap(site, feed_settings, embedder):
    gazette(site)
    gate = asyncio.Event()
    site.routes["/news.rss"].gate = gate
    feed = site.url("/news.rss")
    running = asyncio.create_task(make_poller(feed_settings, embedder).poll([feed]))
    await site.arrived("/news.rss").wait()

    assert await make_poller(feed_settings, embedder).poll([feed]) is None

    gate.set()
    report = await running
    assert report.summary.articles.new == 2
    assert site.count("/news.rss") == 1


async def test_run_every_polls_on_a_schedule_until_stopped(site, feed_settings, embedder):
    gazette(site)
    lines: list[str] = []
    stop = asyncio.Event()

    def on_report(report) -> None:
        lines.append(report.line())
        if len(lines) == 2:
            stop.set()

    await make_poller(feed_settings, embedder).run_every(0.05, on_report, feeds=[site.url("/news.rss")],
                                                         stop=stop)

    assert lines == ["2 new articles", "no new articles"]
    assert site.count("/news.rss") == 2


async def test_a_feed_that_stays_down_is_told_once_and_again_when_it_is_back_across_a_restart(
        site, feed_settings, caplog):
    gazette(site)
    feed = site.url("/news.rss")
    site.routes["/news.rss"].fail_times = 3 * 3  # three polls of three attempts each
    lines: list[str] = []

    async def watch_for(polls: int) -> None:
        stop = asyncio.Event()

        def emit(line: str) -> None:
            lines.append(line.split(" ", 1)[1])  # without the time stamp
            if len(lines) >= polls:
                stop.set()

        await watch(feed_settings, [feed], 0.01, emit=emit, stop=stop, policy=fast_policy(feed_settings))

    with caplog.at_level(logging.DEBUG, logger="newsdesk.feeds"):
        await watch_for(2)
        await watch_for(4)  # `newsdesk watch` started again: the feed's failed polls are remembered

    failing = "HTTP 500 Internal Server Error after 3 attempts"
    assert lines == [
        f"no new articles, 1 feed failed\n  failed: {feed}: feed: {failing}",
        f"no new articles, 1 feed still failing\n  still failing (2 polls in a row): {feed}",
        f"no new articles, 1 feed still failing\n  still failing (3 polls in a row): {feed}",
        f"2 new articles, 1 feed back\n  back: {feed}, after 3 failed polls",
    ]
    logged = [(r.levelname, r.getMessage()) for r in caplog.records
              if r.name == "newsdesk.feeds" and not r.getMessage().startswith("feed poll:")]
    assert logged == [("WARNING", f"feed {feed} is failing: {failing}"),
                      ("DEBUG", f"feed {feed} still failing (2 polls in a row): {failing}"),
                      ("DEBUG", f"feed {feed} still failing (3 polls in a row): {failing}"),
                      ("INFO", f"feed {feed} is back, after 3 failed polls")]


ROBOTS = """# Nobody may crawl this site, except newsdesk, which may read all but the ferry stories.
User-agent: *
Disallow: /

User-agent: newsdesk
Disallow: /news/ferry
Disallow: /news.rss
"""


async def test_robots_txt_is_read_once_per_site_and_what_it_disallows_is_not_fetched(
        site, other_site, feed_settings, embedder):
    gazette(site)
    site.routes["/robots.txt"] = Route(body=ROBOTS.encode(), content_type="text/plain")
    site.routes["/news/ferry-gallery"] = Route(file="ferry.html")
    other_site.routes["/news/school"] = Route(file="school.html")  # and no robots.txt (404)
    feed = site.url("/news.rss")
    bridge, ferry, gallery = site.url("/news/bridge"), site.url("/news/ferry"), site.url("/news/ferry-gallery")
    school = other_site.url("/news/school")

    report = await asyncio.to_thread(ingest_sources, feed_settings, Ingestor(feed_settings, embedder),
                                     feeds=[feed], urls=[gallery, school], policy=fast_policy(feed_settings))

    # The feed, named by the operator, is read although robots.txt lists it; its pages obey.
    assert [(outcome.status, outcome.entries) for outcome in report.feeds] == [("fetched", 2)]
    pages = {page.url: (page.status, page.note) for page in report.pages}
    assert pages == {site.url("/news/bridge?utm_source=rss&utm_medium=feed"): ("fetched", None),
                     ferry: ("summary only", "disallowed by robots.txt"),
                     gallery: ("failed", "disallowed by robots.txt"),
                     school: ("fetched", None)}
    assert [(failure.path, failure.error) for failure in report.failures] == [
        (gallery, "disallowed by robots.txt")]
    assert site.count("/news/ferry") == site.count("/news/ferry-gallery") == 0
    assert site.count("/robots.txt") == other_site.count("/robots.txt") == 1
    robots_request = next(seen for seen in site.requests if seen.path == "/robots.txt")
    assert robots_request.headers["User-Agent"].startswith("newsdesk/")
    index = indexed(feed_settings, embedder)
    assert set(index) == {bridge, ferry, school}
    assert article_text(index[ferry]).endswith(SUMMARY_NOTE)
    assert "after eight months of repairs" in article_text(index[bridge])


async def test_a_robots_txt_that_cannot_be_read_keeps_the_site_off_limits_for_the_run(
        site, feed_settings, embedder, caplog):
    gazette(site)
    site.routes["/robots.txt"] = Route(status=503)
    feed = site.url("/news.rss")

    with caplog.at_level(logging.WARNING, logger="newsdesk.fetching"):
        report = await make_poller(feed_settings, embedder).poll([feed])

    reason = ("not fetched: the site's robots.txt could not be read "
              "(HTTP 503 Service Unavailable after 3 attempts)")
    assert {page.status for page in report.pages} == {"summary only"}
    assert {page.note for page in report.pages} == {reason}
    assert site.count("/news/bridge") == site.count("/news/ferry") == 0
    assert site.count("/robots.txt") == 3  # one read, retried as any 5xx is, for both pages
    assert [r.getMessage() for r in caplog.records if r.name == "newsdesk.fetching"] == [
        f"{site.url('/robots.txt')} could not be read (HTTP 503 Service Unavailable after 3 attempts): "
        "no page of the site is fetched this run"]
    assert report.summary.articles.new == 2


class FakeTime:
    """A clock that only moves when the fetcher sleeps: its waits are seen, not waited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.mark.parametrize(("asked", "waited"), [("1", 1.0), ("30", 2.0)])  # 30 s is cut to the cap, 2 s here
async def test_a_crawl_delay_spaces_out_the_requests_to_its_host(site, feed_settings, asked, waited):
    site.routes["/robots.txt"] = Route(body=f"User-agent: *\nCrawl-delay: {asked}\n".encode(),
                                       content_type="text/plain")
    for name in "abc":
        site.routes[f"/{name}"] = Route(body=name.encode())
    policy = FetchPolicy.from_settings(feed_settings, retry_delays=FAST_RETRIES, max_crawl_delay=2.0)
    fake_time = FakeTime()
    async with Fetcher(policy, sleep=fake_time.sleep, clock=fake_time.clock) as fetcher:
        bodies = [(await fetcher.fetch(site.url(f"/{name}"), obey_robots=True)).body for name in "abc"]
        elsewhere = await fetcher.fetch(f"http://localhost:{site.port}/a")  # another host: no delay

    assert bodies == [b"a", b"b", b"c"] and elsewhere.body == b"a"
    assert fake_time.waits == [waited, waited, waited]  # after robots.txt, and between the pages


async def test_the_fetcher_limits_requests_per_host(site, feed_settings):
    gate = asyncio.Event()
    site.routes["/slow-a"] = Route(body=b"a", gate=gate)
    site.routes["/slow-b"] = Route(body=b"b", gate=gate)
    site.routes["/quick"] = Route(body=b"quick")
    policy = FetchPolicy.from_settings(feed_settings, per_host=1, retry_delays=FAST_RETRIES)
    async with Fetcher(policy) as fetcher:
        first = asyncio.create_task(fetcher.fetch(site.url("/slow-a")))
        second = asyncio.create_task(fetcher.fetch(site.url("/slow-b")))
        try:
            await site.arrived("/slow-a").wait()
            # Another host name for the same server is not held up by the first host's limit...
            quick = await fetcher.fetch(f"http://localhost:{site.port}/quick")
            assert quick.body == b"quick"
            # ...while the second request to the first host is still waiting its turn.
            assert site.count("/slow-b") == 0
        finally:
            gate.set()
        assert [(await first).body, (await second).body] == [b"a", b"b"]


class RecordedWaits:
    """The fetcher's sleep in these tests: notes each wait and lets the loop run, without waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(0)


@pytest.mark.parametrize(("status", "retry_after", "waited"), [
    (429, "1", 1.0),
    (503, format_datetime(NOW + timedelta(seconds=3), usegmt=True), 3.0),
    (503, "soon", FAST_RETRIES[0]),  # unreadable: the usual backoff
    (500, "1", FAST_RETRIES[0]),  # only a 429 or 503 says when to come back
])
async def test_a_retry_waits_as_long_as_retry_after_asks(site, feed_settings, status, retry_after, waited):
    site.routes["/busy.rss"] = Route(file="news.rss", content_type="application/rss+xml", fail_times=1,
                                     fail_status=status, retry_after=retry_after)
    waits = RecordedWaits()
    async with Fetcher(fast_policy(feed_settings), sleep=waits, now=lambda: NOW) as fetcher:
        result = await fetcher.fetch(site.url("/busy.rss"))
    assert (result.status, result.attempts, site.count("/busy.rss")) == (200, 2, 2)
    assert b"<rss" in result.body
    assert waits.seconds == [waited]


@pytest.mark.parametrize(("retry_after", "reason", "requests", "waited"), [
    # Busy every time: the usual three attempts, each wait as asked.
    ("2", "HTTP 429 Too Many Requests after 3 attempts (the server asked to wait 2 s)", 3, [2.0, 2.0]),
    # Asked to wait longer than the fetch timeout (5 s here): given up at once.
    ("3600", "HTTP 429 Too Many Requests (the server asked to wait 3600 s)", 1, []),
])
async def test_a_server_that_stays_busy_fails_saying_how_long_it_asked_to_wait(
        site, feed_settings, retry_after, reason, requests, waited):
    site.routes["/busy"] = Route(body=b"never", fail_times=10, fail_status=429, retry_after=retry_after)
    waits = RecordedWaits()
    async with Fetcher(fast_policy(feed_settings), sleep=waits, now=lambda: NOW) as fetcher:
        with pytest.raises(FetchError) as failed:
            await fetcher.fetch(site.url("/busy"))
    assert failed.value.reason == reason
    assert site.count("/busy") == requests and waits.seconds == waited


# -- the command line ------------------------------------------------------------------------

async def test_cli_ingests_a_feed_then_rebuilds_from_stored_pages_without_the_network(
        site, feed_settings, tmp_path, monkeypatch, capsys):
    gazette(site)
    data_dir = tmp_path / "cli-data"
    files = tmp_path / "files"
    files.mkdir()
    (files / "note.txt").write_text("Council meets on Friday\n\nThe town council meets on Friday at noon.\n")
    monkeypatch.chdir(tmp_path)

    code = await asyncio.to_thread(main, ["ingest", "--feed", site.url("/news.rss"), "--url",
                                          site.url("/nowhere"), "--json", "--data-dir", str(data_dir)])
    first = json.loads(capsys.readouterr().out)
    assert code == 1  # the missing page is a failure; the feed's entries still went in
    assert first["articles"]["new"] == 2
    assert [(f["path"], f["error"]) for f in first["failures"]] == [
        (site.url("/nowhere"), "HTTP 404 Not Found")]
    assert [feed["status"] for feed in first["feeds"]] == ["fetched"]

    await site.stop()
    before = len(site.requests)
    code = await asyncio.to_thread(main, ["ingest", str(files), "--rebuild", "--json", "--data-dir",
                                          str(data_dir)])
    rebuilt = json.loads(capsys.readouterr().out)

    assert code == 0 and rebuilt["failures"] == []
    assert rebuilt["articles"]["new"] == 3
    assert len(site.requests) == before
    settings = feed_settings.model_copy(update={"data_dir": data_dir})
    from newsdesk.embedding import load_embedder

    assert set(indexed(settings, load_embedder())) == {site.url("/news/bridge"), site.url("/news/ferry"),
                                                       "files/note.txt"}


async def test_cli_ingest_feeds_without_configured_feeds_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FEEDS", raising=False)
    code = await asyncio.to_thread(main, ["ingest", "--feeds", "--data-dir", str(tmp_path / "d")])
    assert code == 2
    assert "FEEDS" in capsys.readouterr().err


async def test_watch_command_polls_and_stops_on_ctrl_c(site, tmp_path):
    gazette(site)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "FEEDS": "",
           "NEWSDESK_DATA_DIR": str(tmp_path / "d")}
    # As from a terminal: a runner started in the background (`cmd &`) passes SIGINT down ignored.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "newsdesk", "watch", "--feed", site.url("/news.rss"), "--every", "1h",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=180)
        assert line.decode().rstrip().endswith(" 2 new articles")
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), timeout=60) == 130
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- parsing, without a server ----------------------------------------------------------------

def test_parse_feed_tells_html_and_malformed_feeds_apart():
    with pytest.raises(FeedError, match=r"HTML page, not an RSS/Atom feed; the page names its feed at "
                                        r"https://example\.org/news\.rss"):
        parse_feed((DATA / "homepage.html").read_bytes(), url="https://example.org/",
                   content_type="text/html")
    with pytest.raises(FeedError, match=r"malformed feed: line 2 column \d+"):
        parse_feed((DATA / "malformed.xml").read_bytes(), url="https://example.org/feed")
    with pytest.raises(FeedError, match="empty answer"):
        parse_feed(b"  \n", url="https://example.org/feed")
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b'{"items": []}', url="https://example.org/feed", content_type="application/json")


def test_a_feed_served_as_html_content_type_is_still_read():
    body = (DATA / "news.rss").read_text().replace("{base}", "https://example.org").encode()
    feed = parse_feed(body, url="https://example.org/news.rss", content_type="text/html")
    assert [entry.title for entry in feed.entries] == ["Harbour bridge reopens after repairs",
                                                       "Night ferry to Skerry Island returns"]


def test_canonical_url_drops_tracking_and_ignores_a_home_page_canonical():
    assert canonical_url(None, "https://Example.org/a/b?utm_source=rss&id=3#top") == "https://example.org/a/b?id=3"
    assert canonical_url("/", "https://example.org/a/b") == "https://example.org/a/b"
    assert canonical_url("/story/1", "https://example.org/a/b?x=1") == "https://example.org/story/1"


def test_extract_page_refuses_what_is_not_html():
    with pytest.raises(ArticleError, match=r"not an HTML page \(application/pdf\)"):
        extract_page(b"%PDF-1.7", url="https://example.org/a.pdf", content_type="application/pdf")
    with pytest.raises(ArticleError, match="no article text"):
        extract_page(b"<html><body></body></html>", url="https://example.org/empty", content_type="text/html")


def test_extract_page_reads_html_served_with_a_wrong_content_type():
    body = (DATA / "school.html").read_bytes()
    fields = extract_page(body, url="https://example.org/news/school",
                          content_type="application/octet-stream")
    assert fields["title"] == "Port Ellis school wins robotics prize"
    assert fields["text"].startswith("Pupils from Port Ellis secondary school won")


@pytest.mark.parametrize("text, seconds",
                         [("15m", 900), ("90s", 90), ("1h30m", 5400), ("2", 120), ("0.5s", 0.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "15x", "0m", "-5m"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_duration(text)
