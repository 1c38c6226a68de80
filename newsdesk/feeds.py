"""Feeds and article pages into the index: `newsdesk ingest --feed/--url/--feeds`,
`newsdesk watch`, and the bot's background polling (`FeedPoller`).

A run fetches every feed conditionally, so an unchanged feed answers 304 and
costs nothing more. For each entry it reuses the stored page when the entry is
unchanged and the page was checked recently (`FetchPolicy.page_recheck_seconds`);
otherwise it fetches the page (conditionally, when one is stored; only where the
site's robots.txt allows: the feeds themselves, named by the operator, are read
regardless) and extracts text and metadata with trafilatura. An entry whose page cannot be
fetched, or holds no article text, falls back to the feed's own text with a
closing note saying so, unless an earlier full copy is stored, which is kept.
The articles (id = canonical URL) then go through `Ingestor.ingest_articles`,
the same incremental path files take. A feed's validators are saved only once
its entries are in the index, so a run that dies half-way is redone next time.

Fetching (`newsdesk.fetching`) and storage (`newsdesk.pages`) live apart; the
parsing functions here take bytes and return plain values.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, Field, field_validator

from newsdesk.articles import Article, ArticleError, normalise_text, parse_date, parse_html
from newsdesk.config import Settings
from newsdesk.fetching import Fetcher, FetchError, FetchPolicy, FetchResult, Validators, redact
from newsdesk.ingestion import (ArticleCounts, ChunkCounts, Failure, Ingestor, IngestSummary, LockFile,
                                UsageError)
from newsdesk.pages import PageRecord, PageStore, StoredPage, now_iso
from newsdesk.store import StoreError

logger = logging.getLogger(__name__)

SUMMARY_NOTE = "(Summary from the feed: the full article could not be fetched.)"
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.IGNORECASE)


class FeedError(ValueError):
    """A feed that cannot be read: HTML instead of XML, malformed XML, an empty answer."""


# -- parsing (bytes in, plain values out) --------------------------------------------

@dataclass
class FeedEntry:
    """One feed item; `text` is the feed's own text for it (content or summary) as plain text."""

    link: str | None
    guid: str | None
    title: str
    text: str
    author: str | None = None
    published: dt.date | None = None
    fingerprint: str = ""


@dataclass
class ParsedFeed:
    url: str
    title: str | None
    entries: list[FeedEntry]
    warning: str | None = None


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """The entries of an RSS or Atom feed; FeedError for anything that is not one."""
    import feedparser

    if not body.strip():
        raise FeedError("empty answer, not a feed")
    try:
        parsed = feedparser.parse(body, response_headers={
            "content-location": url, "content-type": content_type or "application/xml"})
    except Exception as exc:  # feedparser catches nearly everything itself; this is the rest
        raise FeedError(f"unreadable feed: {_first_line(exc)}") from None
    version = parsed.get("version", "")
    raw_entries = parsed.get("entries", [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    benign = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
    if not version and not raw_entries:
        if _looks_like_html(body):
            raise FeedError(_html_instead_of_feed(body, url))
        raise FeedError(f"not an RSS or Atom feed ({_first_line(problem) or 'unrecognised format'})")
    warning = None
    if problem is not None and not isinstance(problem, benign):
        if not raw_entries:
            raise FeedError(f"malformed feed: {_first_line(problem)}")
        warning = f"not well-formed ({_first_line(problem)}); read {len(raw_entries)} entries leniently"
    feed_title = _one_line(parsed.get("feed", {}).get("title"))
    return ParsedFeed(url=url, title=feed_title, entries=[_entry(item) for item in raw_entries],
                      warning=warning)


def _entry(item) -> FeedEntry:
    link = item.get("link")
    link = link if isinstance(link, str) and urlsplit(link).scheme in ("http", "https") else None
    candidates = [part.get("value", "") for part in item.get("content", []) or []]
    candidates.append(item.get("summary", "") or "")
    text = max((html_to_text(c) for c in candidates if c), key=len, default="")
    stamp = item.get("published_parsed") or item.get("updated_parsed")
    published = dt.date(*stamp[:3]) if stamp else None
    entry = FeedEntry(link=link, guid=_one_line(item.get("id")), title=_one_line(item.get("title")) or "",
                      text=text, author=_one_line(item.get("author")), published=published)
    entry.fingerprint = hashlib.sha256(json.dumps(
        [entry.link, entry.guid, entry.title, entry.text, entry.author, str(published),
         item.get("updated", "")]).encode()).hexdigest()
    return entry


def html_to_text(fragment: str) -> str:
    """Plain text from a feed's (already sanitised) HTML, one paragraph per block."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(f"<body>{fragment}</body>")
    blocks = [" ".join(node.text(separator=" ").split())
              for node in tree.css("p, li, h1, h2, h3, h4, blockquote, pre")]
    blocks = [block for block in blocks if block]
    if not blocks and tree.body is not None:
        blocks = [" ".join(tree.body.text(separator=" ").split())]
    return normalise_text("\n\n".join(blocks))


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<!doctype html") or b"<html" in head


def _html_instead_of_feed(body: bytes, url: str) -> str:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(body.decode("utf-8", errors="replace"))
    for node in tree.css("link[rel=alternate]"):
        kind = (node.attributes.get("type") or "").lower()
        href = node.attributes.get("href")
        if href and ("rss" in kind or "atom" in kind):
            return f"an HTML page, not an RSS/Atom feed; the page names its feed at {urljoin(url, href)}"
    return "an HTML page, not an RSS/Atom feed; check the feed's address"


def extract_page(body: bytes, *, url: str, content_type: str = "") -> dict:
    """Text and metadata of an article page (trafilatura; the plain HTML reader when it finds nothing)."""
    import trafilatura

    kind = content_type.split(";")[0].strip().lower()
    if kind and kind not in HTML_TYPES and not _looks_like_html(body):
        raise ArticleError(f"not an HTML page ({kind})")
    try:
        document = trafilatura.bare_extraction(
            body, url=url, with_metadata=True, include_comments=False,
            date_extraction_params={"extensive_search": False, "original_date": True})
    except Exception:  # a page trafilatura chokes on gets the plain HTML reader below
        document = None
    fields: dict = {}
    if document is not None:
        fields = {"title": document.title, "text": document.text, "source": document.sitename,
                  "author": document.author, "published": document.date, "url": document.url}
    if not (fields.get("text") or "").strip():
        try:
            fallback = parse_html(body.decode(_charset(content_type), errors="replace"))
        except ArticleError:
            raise
        except Exception as exc:
            raise ArticleError(f"the page could not be read as HTML: {_first_line(exc)}") from None
        fields = {key: fields.get(key) or fallback.get(key) for key in
                  ("title", "text", "source", "author", "published", "url")}
    text = (fields.get("text") or "").strip()
    if not text:
        raise ArticleError("no article text on the page")
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines and fields.get("title") and lines[0] == _one_line(fields["title"]):
        lines.pop(0)
    fields["text"] = normalise_text("\n\n".join(lines))
    if not fields["text"]:
        raise ArticleError("no article text on the page")
    return fields


def _charset(content_type: str) -> str:
    match = re.search(r"charset=([\w-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"


def canonical_url(candidate: str | None, fetched: str) -> str:
    """The page's canonical URL when it is a plausible one, else the fetched URL; tidied either way.

    A canonical link pointing at the site's home page (a common template bug)
    would merge every article into one, so it is ignored.
    """
    chosen = fetched
    if candidate:
        absolute = urljoin(fetched, candidate.strip())
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.netloc and \
                (parts.path.strip("/") or not urlsplit(fetched).path.strip("/")):
            chosen = absolute
    return tidy_url(chosen)


def tidy_url(url: str) -> str:
    """Without fragment and tracking parameters, host in lower case: one article, one id."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not TRACKING_PARAMS.match(k)])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def _one_line(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _first_line(problem: object) -> str:
    if problem is None:
        return ""
    text = str(problem).strip().splitlines()
    if not text:
        return type(problem).__name__
    return re.sub(r"^<unknown>:(\d+):(\d+):\s*", r"line \1 column \2: ", text[0])


def _host(url: str) -> str | None:
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


# -- what a run did ----------------------------------------------------------------

class _Redacted(BaseModel):
    url: str = Field(description="Without any user:password part.")

    @field_validator("url")
    @classmethod
    def _redacted(cls, value: str) -> str:
        return redact(value)


class FeedOutcome(_Redacted):
    status: Literal["fetched", "not modified", "failed"]
    entries: int = 0
    note: str | None = None
    failed_polls: int = Field(0, description="A scheduled poll's failed feed: how many polls in a row it "
                                             "has failed, this one included (1: it has just started).")
    recovered_after: int = Field(0, description="A scheduled poll's answering feed: how many polls in a "
                                                "row it had failed before this one (0: it was fine).")

    @property
    def still_failing(self) -> bool:
        """Failed, and already known to be failing: a poll says no more of it than that."""
        return self.status == "failed" and self.failed_polls > 1

    def failure(self) -> Failure:
        return Failure(path=self.url, error=f"feed: {self.note}")

    def back_after(self) -> str:
        """How long a feed that answers again was down, in words: "after 3 failed polls"."""
        return f"after {self.recovered_after} failed poll{'' if self.recovered_after == 1 else 's'}"


class PageOutcome(_Redacted):
    article_id: str | None = None
    status: Literal["fetched", "not modified", "stored", "summary only", "kept stored copy", "failed"]
    note: str | None = None


class WebReport(BaseModel):
    """What one feed/URL run did: the ingestion summary, plus every feed and page."""

    summary: IngestSummary = Field(default_factory=IngestSummary)
    feeds: list[FeedOutcome] = Field(default_factory=list)
    pages: list[PageOutcome] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.summary.changed

    @property
    def failures(self) -> list[Failure]:
        return self.summary.failures

    def line(self) -> str:
        """One line for a log channel: "12 new articles, 1 updated"."""
        counts = self.summary.articles
        parts = []
        if counts.new:
            parts.append(f"{counts.new} new article{'' if counts.new == 1 else 's'}")
        if counts.updated:
            parts.append(f"{counts.updated} updated")
        if not parts:
            parts.append("no new articles")
        summary_only = sum(1 for page in self.pages if page.status == "summary only")
        if summary_only:
            parts.append(f"{summary_only} from the feed's summary only")
        failed = sum(1 for feed in self.feeds if feed.status == "failed")
        still = sum(1 for feed in self.feeds if feed.still_failing)
        if failed - still:
            parts.append(f"{failed - still} feed{'' if failed - still == 1 else 's'} failed")
        if still:
            parts.append(f"{still} feed{'' if still == 1 else 's'} still failing")
        back = len(self.recovered_feeds)
        if back:
            parts.append(f"{back} feed{'' if back == 1 else 's'} back")
        others = len(self.summary.failures) - failed
        if others > 0:
            parts.append(f"{others} other failure{'' if others == 1 else 's'}")
        return ", ".join(parts)

    @property
    def newly_failed_feeds(self) -> list[FeedOutcome]:
        """Feeds that failed and were not already known to be failing (every failed feed of an
        unscheduled run)."""
        return [feed for feed in self.feeds if feed.status == "failed" and not feed.still_failing]

    @property
    def recovered_feeds(self) -> list[FeedOutcome]:
        return [feed for feed in self.feeds if feed.recovered_after]

    @property
    def fresh_failures(self) -> list[Failure]:
        """The failures, less those of feeds already known to be failing."""
        known = [feed.failure() for feed in self.feeds if feed.still_failing]
        return [failure for failure in self.failures if failure not in known]

    @property
    def worth_telling(self) -> bool:
        """Whether someone who saw the previous polls learns something: new or updated articles,
        a feed that started failing or came back, or any other failure. A feed that stays down is
        told once, when it starts failing, and once more when it is back."""
        return self.changed or bool(self.fresh_failures or self.recovered_feeds)

    def watch_details(self) -> list[str]:
        """The lines below a poll's line in `newsdesk watch`: each fresh failure with its reason,
        and, in brief, the feeds still failing and the ones back."""
        lines = [f"failed: {failure.path}: {failure.error}" for failure in self.fresh_failures]
        lines += [f"still failing ({feed.failed_polls} polls in a row): {feed.url}"
                  for feed in self.feeds if feed.still_failing]
        lines += [f"back: {feed.url}, {feed.back_after()}" for feed in self.recovered_feeds]
        return lines

    def describe(self) -> str:
        lines = [self.summary.describe()]
        for feed in self.feeds:
            if feed.status == "fetched":
                note = f" ({feed.note})" if feed.note else ""
                entries = f"{feed.entries} entr{'y' if feed.entries == 1 else 'ies'}"
                lines.append(f"feed {feed.url}: {entries}{note}")
            elif feed.status == "not modified":
                lines.append(f"feed {feed.url}: not modified")
        for page in self.pages:
            if page.status in ("summary only", "kept stored copy"):
                lines.append(f"{page.status}: {page.url}: {page.note}")
        return "\n".join(lines)

    def json_summary(self) -> str:
        """The `ingest --json` object: the ingestion summary's fields, plus `feeds` and `pages`."""
        payload = self.summary.model_dump(mode="json")
        payload["feeds"] = [feed.model_dump(mode="json") for feed in self.feeds]
        payload["pages"] = [page.model_dump(mode="json") for page in self.pages]
        return json.dumps(payload, ensure_ascii=False)


# -- collecting articles from the web ---------------------------------------------------

@dataclass
class Collected:
    """Articles gathered by one run, and what to record once they are in the index."""

    articles: list[Article] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    feeds: list[FeedOutcome] = field(default_factory=list)
    pages: list[PageOutcome] = field(default_factory=list)
    feed_validators: dict[str, Validators] = field(default_factory=dict)


class WebCollector:
    """Fetches feeds, entry pages and single URLs for one run, storing every page it uses."""

    def __init__(self, settings: Settings, policy: FetchPolicy | None = None, *, transport=None):
        self.settings = settings
        self.policy = policy or FetchPolicy.from_settings(settings)
        self.pages = PageStore(settings.data_dir)
        self._transport = transport
        self._fetcher: Fetcher | None = None
        self._page_tasks: dict[str, asyncio.Task] = {}

    async def collect(self, feeds: Iterable[str] = (), urls: Iterable[str] = ()) -> Collected:
        feeds, urls = _unique_strings(feeds), _unique_strings(urls)
        collected = Collected()
        self._page_tasks = {}
        async with Fetcher(self.policy, transport=self._transport) as fetcher:
            self._fetcher = fetcher
            results = await asyncio.gather(*(self._feed(url, collected) for url in feeds),
                                           *(self._single_page(url, collected) for url in urls))
        order = {redact(url): index for index, url in enumerate(feeds)}
        collected.feeds.sort(key=lambda outcome: order[outcome.url])
        seen: set[str] = set()
        for articles in results:
            for article in articles:
                if article.id not in seen:
                    seen.add(article.id)
                    collected.articles.append(article)
        return collected

    # -- feeds ------------------------------------------------------------------------
    async def _feed(self, url: str, collected: Collected) -> list[Article]:
        try:
            result = await self._fetcher.fetch(url, self.pages.feed_validators(url), accept=FEED_ACCEPT)
        except FetchError as exc:
            return self._feed_failed(url, exc.reason, collected)
        if result.not_modified:
            collected.feeds.append(FeedOutcome(url=url, status="not modified"))
            return []
        try:
            feed = await asyncio.to_thread(parse_feed, result.body, url=result.final_url,
                                           content_type=result.content_type)
        except FeedError as exc:
            return self._feed_failed(url, str(exc), collected)
        articles = await asyncio.gather(*(self._entry(feed, entry, collected) for entry in feed.entries))
        collected.feed_validators[url] = result.validators
        collected.feeds.append(FeedOutcome(url=url, status="fetched", entries=len(feed.entries),
                                           note=feed.warning))
        return [article for article in articles if article is not None]

    @staticmethod
    def _feed_failed(url: str, reason: str, collected: Collected) -> list[Article]:
        outcome = FeedOutcome(url=url, status="failed", note=reason)
        collected.feeds.append(outcome)
        collected.failures.append(outcome.failure())
        return []

    async def _entry(self, feed: ParsedFeed, entry: FeedEntry, collected: Collected) -> Article | None:
        if entry.link is None:
            return self._linkless_entry(feed, entry, collected)
        task = self._page_tasks.get(entry.link)
        if task is None:
            task = asyncio.ensure_future(self._entry_page(feed, entry, collected))
            self._page_tasks[entry.link] = task
        return await task

    async def _entry_page(self, feed: ParsedFeed, entry: FeedEntry, collected: Collected) -> Article | None:
        link = entry.link
        assert link is not None
        record, full_copy = self._known_page(link)
        if full_copy is not None and record.entry_fingerprint == entry.fingerprint and \
                record.checked_within(self.policy.page_recheck_seconds):
            collected.pages.append(PageOutcome(url=link, article_id=full_copy.article.id, status="stored"))
            return full_copy.article
        try:
            return await self._fetch_page(link, record, full_copy, collected, feed=feed, entry=entry)
        except (FetchError, ArticleError) as exc:
            reason = _failure_reason(exc)
            if full_copy is not None:
                self.pages.revalidated(link, record.entry_fingerprint)
                collected.pages.append(PageOutcome(url=link, article_id=full_copy.article.id,
                                                   status="kept stored copy", note=reason))
                return full_copy.article
            return self._summary_article(feed, entry, reason, record.article_id if record else None,
                                         collected)

    def _summary_article(self, feed: ParsedFeed, entry: FeedEntry, reason: str, sticky_id: str | None,
                         collected: Collected) -> Article | None:
        """The feed's own text, marked, for an entry whose page could not be used."""
        url = entry.link or feed.url
        if not entry.text:
            collected.pages.append(PageOutcome(url=url, status="failed", note=reason))
            collected.failures.append(Failure(path=redact(url),
                                              error=f"{reason}, and the feed gives no text for it"))
            return None
        article_id = sticky_id or (tidy_url(entry.link) if entry.link else _linkless_id(feed, entry))
        published, year = parse_date(entry.published)
        article = Article(id=article_id, title=entry.title, text=f"{entry.text}\n\n{SUMMARY_NOTE}",
                          source=feed.title or _host(url), author=entry.author, url=entry.link,
                          published=published, year=year)
        self.pages.save(StoredPage(article=article, fetched_url=entry.link or article_id, feed=feed.url,
                                   fetched_at=now_iso(), summary_only=reason),
                        None, validators=None, entry_fingerprint=entry.fingerprint)
        collected.pages.append(PageOutcome(url=url, article_id=article.id, status="summary only",
                                           note=reason))
        return article

    def _linkless_entry(self, feed: ParsedFeed, entry: FeedEntry, collected: Collected) -> Article | None:
        record = self.pages.page_record(_linkless_id(feed, entry))
        if record is not None and record.entry_fingerprint == entry.fingerprint:
            stored = self.pages.load(record.article_id)
            if stored is not None:
                return stored.article
        return self._summary_article(feed, entry, "the entry has no link", None, collected)

    # -- single pages -------------------------------------------------------------------
    async def _single_page(self, url: str, collected: Collected) -> list[Article]:
        record, full_copy = self._known_page(url)
        try:
            return [await self._fetch_page(url, record, full_copy, collected, feed=None, entry=None)]
        except (FetchError, ArticleError) as exc:
            reason = _failure_reason(exc)
            collected.pages.append(PageOutcome(url=url, status="failed", note=reason))
            collected.failures.append(Failure(path=redact(url), error=reason))
            return []

    # -- pages, either way ----------------------------------------------------------------
    def _known_page(self, url: str) -> tuple[PageRecord | None, StoredPage | None]:
        """What is stored for a page: its record, and its full copy (None when only a summary is)."""
        record = self.pages.page_record(url)
        stored = self.pages.load(record.article_id) if record else None
        return record, stored if stored is not None and stored.summary_only is None else None

    async def _fetch_page(self, url: str, record: PageRecord | None, full_copy: StoredPage | None,
                          collected: Collected, *, feed: ParsedFeed | None,
                          entry: FeedEntry | None) -> Article:
        """Fetch a feed entry's or a --url page, conditionally when a full copy is stored: that copy on
        304, else the article extracted and stored afresh (raises FetchError or ArticleError)."""
        result = await self._fetcher.fetch(url, record.validators if full_copy else None, accept=PAGE_ACCEPT,
                                           obey_robots=True)
        if result.not_modified and full_copy is not None:
            self.pages.revalidated(url, entry.fingerprint if entry else record.entry_fingerprint)
            collected.pages.append(PageOutcome(url=url, article_id=full_copy.article.id,
                                               status="not modified"))
            return full_copy.article
        article = await self._page_article(result, feed=feed, entry=entry,
                                           sticky_id=record.article_id if record else None)
        collected.pages.append(PageOutcome(url=url, article_id=article.id, status="fetched"))
        return article

    async def _page_article(self, result: FetchResult, *, feed: ParsedFeed | None, entry: FeedEntry | None,
                            sticky_id: str | None) -> Article:
        """Extract, build and store the article of a fetched page (raises ArticleError)."""
        if result.not_modified:
            raise ArticleError("the server answered 304 Not Modified but no copy is stored")
        fields = await asyncio.to_thread(extract_page, result.body, url=result.final_url,
                                         content_type=result.content_type)
        canonical = canonical_url(fields.get("url"), result.final_url)
        published, year = parse_date(fields.get("published"))
        if published is None and entry is not None and entry.published is not None:
            published, year = entry.published, entry.published.year
        article = Article(
            id=sticky_id or canonical,
            title=_one_line(fields.get("title")) or (entry.title if entry else "") or "",
            text=fields["text"],
            source=_one_line(fields.get("source")) or (feed.title if feed else None) or _host(canonical),
            author=_one_line(fields.get("author")) or (entry.author if entry else None),
            url=canonical, published=published, year=year)
        self.pages.save(StoredPage(article=article, fetched_url=result.url, final_url=result.final_url,
                                   feed=feed.url if feed else None, fetched_at=now_iso()),
                        result.body, validators=result.validators,
                        entry_fingerprint=entry.fingerprint if entry else None)
        return article


def _failure_reason(exc: FetchError | ArticleError) -> str:
    return exc.reason if isinstance(exc, FetchError) else str(exc)


def _linkless_id(feed: ParsedFeed, entry: FeedEntry) -> str:
    if entry.guid and urlsplit(entry.guid).scheme in ("http", "https"):
        return tidy_url(entry.guid)
    digest = hashlib.sha256((entry.guid or entry.title or entry.text).encode()).hexdigest()[:16]
    return f"{feed.url}#{digest}"


def _unique_strings(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values if value and value.strip()))


# -- into the index -----------------------------------------------------------------

def index_collected(ingestor: Ingestor, collected: Collected, *, paths: Iterable[Path] = (),
                    prune: bool = False, rebuild: bool = False, progress=None) -> IngestSummary:
    """Ingest files (if any) and the collected articles; then record the feeds' validators.

    With `rebuild`, the index is dropped and every stored web page is ingested
    again from the data directory, alongside the files and the fresh articles.
    """
    paths = list(paths)
    pages = PageStore(ingestor.settings.data_dir)
    parts: list[IngestSummary] = []
    if paths:
        parts.append(ingestor.ingest_paths(paths, prune=prune, rebuild=rebuild, progress=progress))
    articles, failures = list(collected.articles), list(collected.failures)
    if rebuild:
        stored, unreadable = pages.stored_articles()
        fresh = {article.id for article in articles}
        articles += [article for article in stored if article.id not in fresh]
        failures += unreadable
    if articles or (rebuild and not paths):
        parts.append(ingestor.ingest_articles(articles, failures=failures, rebuild=rebuild and not paths,
                                              progress=progress))
    elif failures or not parts:
        parts.append(IngestSummary(failures=failures, chunks=ChunkCounts(total=_indexed_chunks(ingestor))))
    pages.save_feed_validators(collected.feed_validators)
    return merge_summaries(parts)


def _indexed_chunks(ingestor: Ingestor) -> int:
    """How many chunks the index holds, without touching it (a 304-only poll writes nothing)."""
    try:
        return ingestor.open_store(create=False).count()
    except StoreError:
        return 0


def merge_summaries(parts: list[IngestSummary]) -> IngestSummary:
    merged = IngestSummary()
    for part in parts:
        for name in ArticleCounts.model_fields:
            setattr(merged.articles, name, getattr(merged.articles, name) + getattr(part.articles, name))
        merged.chunks.embedded += part.chunks.embedded
        merged.chunks.deleted += part.chunks.deleted
        merged.chunks.total = part.chunks.total
        merged.failures += part.failures
        merged.seconds += part.seconds
    merged.articles.failed = len(merged.failures)
    return merged


def ingest_sources(settings: Settings, ingestor: Ingestor, *, paths: Iterable[Path] = (),
                   feeds: Iterable[str] = (), urls: Iterable[str] = (), prune: bool = False,
                   rebuild: bool = False, progress=None, policy: FetchPolicy | None = None) -> WebReport:
    """`newsdesk ingest` with feeds, URLs or --rebuild: fetch (async), then ingest (here, synchronously)."""
    started = time.perf_counter()
    feeds, urls, paths = list(feeds), list(urls), [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    collected = Collected()
    if feeds or urls:
        collected = asyncio.run(WebCollector(settings, policy).collect(feeds, urls))
    summary = index_collected(ingestor, collected, paths=paths, prune=prune, rebuild=rebuild,
                              progress=progress)
    summary.seconds = time.perf_counter() - started
    return WebReport(summary=summary, feeds=collected.feeds, pages=collected.pages)


# -- polling on a schedule ------------------------------------------------------------

class FeedPoller:
    """Polls feeds into the index, for `newsdesk watch` and the Discord bot.

    Two polls never overlap, in one process or across several sharing a data
    directory: a poll that finds another one running returns None at once.
    Fetching is asynchronous and extraction and embedding run in worker
    threads, so polling never blocks the caller's event loop.

    A feed's run of failed polls is kept in the data directory (so it outlives
    a restart) and set on its `FeedOutcome`: a feed that starts failing is
    logged as a warning, one that is back as info, one still failing at debug.
    """

    def __init__(self, settings: Settings, ingestor: Ingestor | None = None, *,
                 policy: FetchPolicy | None = None):
        self.settings = settings
        self.policy = policy or FetchPolicy.from_settings(settings)
        self._ingestor = ingestor

    async def poll(self, feeds: Iterable[str] | None = None) -> WebReport | None:
        """One poll of `feeds` (default: settings.feeds); None if another poll is still running."""
        feeds = list(self.settings.feeds if feeds is None else feeds)
        lock = LockFile(Path(self.settings.data_dir) / "web" / ".poll.lock")
        started = time.perf_counter()
        collected = Collected()
        try:
            if not lock.acquire(wait=False):
                logger.info("feed poll skipped: another poll is still running")
                return None
            collected = await WebCollector(self.settings, self.policy).collect(feeds)
            await asyncio.to_thread(self._record_feed_health, collected.feeds)
            ingestor = await self._get_ingestor()
            summary = await asyncio.to_thread(index_collected, ingestor, collected)
        except (StoreError, UsageError) as exc:
            return _failed_report(str(self.settings.data_dir), str(exc), collected)
        finally:
            lock.release()
        summary.seconds = time.perf_counter() - started
        report = WebReport(summary=summary, feeds=collected.feeds, pages=collected.pages)
        logger.info("feed poll: %s", report.line())
        return report

    def _record_feed_health(self, outcomes: list[FeedOutcome]) -> None:
        """Count each feed's failed polls in the data directory, note them on its outcome, and log
        the changes: a warning when a feed starts failing, info when it is back."""
        failed = {feed.url: feed.note or "failed" for feed in outcomes if feed.status == "failed"}
        answered = [feed.url for feed in outcomes if feed.status != "failed"]
        failing, recovered = PageStore(self.settings.data_dir).record_feed_health(failed, answered)
        for feed in outcomes:
            if feed.status == "failed":
                feed.failed_polls = failing[feed.url]
                if feed.failed_polls == 1:
                    logger.warning("feed %s is failing: %s", feed.url, feed.note)
                else:
                    logger.debug("feed %s still failing (%d polls in a row): %s", feed.url,
                                 feed.failed_polls, feed.note)
            elif recovered[feed.url]:
                feed.recovered_after = recovered[feed.url]
                logger.info("feed %s is back, %s", feed.url, feed.back_after())

    async def _get_ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = await asyncio.to_thread(Ingestor, self.settings)
        return self._ingestor

    async def run_every(self, seconds: float,
                        on_report: Callable[[WebReport | None], Awaitable[None] | None], *,
                        feeds: Iterable[str] | None = None, stop: asyncio.Event | None = None) -> None:
        """Poll now and then every `seconds` (from the start of one poll to the next) until `stop` is set.

        `on_report` gets each poll's report, or None when a poll was skipped
        because another was still running.
        """
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        feeds = None if feeds is None else list(feeds)
        while not stop.is_set():
            started = loop.time()
            try:
                report = await self.poll(feeds)
            except Exception as exc:  # a background schedule must outlive one bad poll
                logger.exception("feed poll failed")
                report = _failed_report("feed poll", f"{type(exc).__name__}: {exc}")
            outcome = on_report(report)
            if inspect.isawaitable(outcome):
                await outcome
            remaining = seconds - (loop.time() - started)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, remaining))
            except TimeoutError:
                pass


async def watch(settings: Settings, feeds: Iterable[str], seconds: float, *, emit: Callable[[str], None],
                as_json: bool = False, stop: asyncio.Event | None = None,
                policy: FetchPolicy | None = None) -> None:
    """`newsdesk watch`: poll on a schedule, one line (or JSON object) per poll, until `stop`."""
    poller = FeedPoller(settings, policy=policy)

    def report(outcome: WebReport | None) -> None:
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        if outcome is None:
            emit(f"{stamp} skipped: another poll of this data directory is still running")
        elif as_json:
            emit(outcome.json_summary())
        else:
            emit(f"{stamp} {outcome.line()}" + "".join(f"\n  {line}" for line in outcome.watch_details()))

    await poller.run_every(seconds, report, feeds=feeds, stop=stop)


def _failed_report(path: str, error: str, collected: Collected | None = None) -> WebReport:
    """A poll that could not finish: its error, after whatever it had collected."""
    collected = collected or Collected()
    failures = [*collected.failures, Failure(path=path, error=error)]
    return WebReport(summary=IngestSummary(failures=failures, articles=ArticleCounts(failed=len(failures))),
                     feeds=collected.feeds, pages=collected.pages)


DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds from "15m", "90s", "1h30m" or a bare number of minutes; ValueError otherwise."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text) * 60
    elif text and DURATION.sub("", text).strip() == "":
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in DURATION.findall(text))
    else:
        raise ValueError(f"not a duration: {text!r}; write e.g. 15m, 90s or 1h")
    if seconds <= 0:
        raise ValueError("the interval must be longer than zero")
    return seconds
