"""Fetched web pages and HTTP validators, kept in the data directory.

    data/web/web.sqlite3       feeds: ETag / Last-Modified per feed URL (for 304s);
                               feed_failures: the feeds a scheduled poll found failing,
                               how many polls in a row, since when and why;
                               pages: page URL -> article id, its validators, the feed
                               entry it was fetched for, when it was last fetched or
                               revalidated, and whether only the summary was used
    data/web/pages/KEY.html    the page exactly as fetched (absent for summary-only entries)
    data/web/pages/KEY.json    the article as ingested, with where and when it came from
    data/web/pages/KEY.txt     the same, for a person to read

KEY is the article's key in the index (`store.article_key` of its id). The JSON
files are what `newsdesk ingest --rebuild` re-ingests without the network.
Every file is written to a temporary name and renamed, so a reader never sees
half a page.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from newsdesk.articles import Article
from newsdesk.fetching import Validators
from newsdesk.ingestion import Failure, UsageError
from newsdesk.store import article_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_failures (
    url TEXT PRIMARY KEY,
    failed_polls INTEGER NOT NULL,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    entry_fingerprint TEXT,
    summary_only TEXT,
    checked_at TEXT NOT NULL
);
"""


class StoredPage(BaseModel):
    """One ingested web article and its provenance (the KEY.json file)."""

    article: Article
    fetched_url: str = Field(description="The URL asked for: the feed entry's link or the --url given.")
    final_url: str | None = Field(None, description="Where the redirects ended.")
    feed: str | None = Field(None, description="The feed the entry came from, if any.")
    fetched_at: str
    summary_only: str | None = Field(
        None, description="Set when the text is the feed's own summary: why the page could not be used.")
    html_file: str | None = Field(None, description="The raw page beside this file, if one was fetched.")


@dataclass(frozen=True)
class PageRecord:
    url: str
    article_id: str
    validators: Validators
    entry_fingerprint: str | None
    summary_only: str | None
    checked_at: dt.datetime

    def checked_within(self, seconds: float) -> bool:
        return (dt.datetime.now(dt.timezone.utc) - self.checked_at).total_seconds() < seconds


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class PageStore:
    """The data directory's `web/` folder."""

    def __init__(self, data_dir: Path | str):
        self.root = Path(data_dir) / "web"
        self.pages_dir = self.root / "pages"
        self.db_path = self.root / "web.sqlite3"
        self._ready = False

    # -- validators and page records -----------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            try:
                self.pages_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot write to the data directory {self.root}: "
                                 f"{exc.strerror or exc}") from None
        try:
            db = sqlite3.connect(self.db_path, timeout=30)
            if not self._ready:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                self._ready = True
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open {self.db_path}: {exc}") from None
        return db

    def feed_validators(self, url: str) -> Validators:
        with closing(self._connect()) as db:
            row = db.execute("SELECT etag, last_modified FROM feeds WHERE url = ?", (url,)).fetchone()
        return Validators(*row) if row else Validators()

    def save_feed_validators(self, validators: dict[str, Validators]) -> None:
        """Called once the feed's entries are in the index, never before."""
        if not validators:
            return
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO feeds (url, etag, last_modified, checked_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, checked_at = excluded.checked_at",
                [(url, v.etag, v.last_modified, now_iso()) for url, v in validators.items()])

    def record_feed_health(self, failed: dict[str, str], answered: Iterable[str]
                           ) -> tuple[dict[str, int], dict[str, int]]:
        """After a scheduled poll: the run of failed polls of each `failed` feed (url -> reason)
        grows by one, and that of each feed that `answered` ends.

        Returns how many polls in a row each failed feed has now failed (1: it has just started),
        and how many each answering feed had failed before this one (0: it was fine).
        """
        answered = list(answered)
        with closing(self._connect()) as db, db:
            runs = dict(db.execute("SELECT url, failed_polls FROM feed_failures"))
            db.executemany(
                "INSERT INTO feed_failures (url, failed_polls, reason, since) VALUES (?, 1, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET failed_polls = failed_polls + 1, reason = excluded.reason",
                [(url, reason, now_iso()) for url, reason in failed.items()])
            db.executemany("DELETE FROM feed_failures WHERE url = ?", [(url,) for url in answered])
        return ({url: runs.get(url, 0) + 1 for url in failed}, {url: runs.get(url, 0) for url in answered})

    def page_record(self, url: str) -> PageRecord | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT url, article_id, etag, last_modified, entry_fingerprint, summary_only, "
                             "checked_at FROM pages WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        try:
            checked_at = dt.datetime.fromisoformat(row[6])
        except ValueError:
            checked_at = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return PageRecord(row[0], row[1], Validators(row[2], row[3]), row[4], row[5], checked_at)

    def revalidated(self, url: str, fingerprint: str | None) -> None:
        """A 304 for a stored page: note the entry it now belongs to and when it was checked."""
        with closing(self._connect()) as db, db:
            db.execute("UPDATE pages SET entry_fingerprint = ?, checked_at = ? WHERE url = ?",
                       (fingerprint, now_iso(), url))

    # -- pages ------------------------------------------------------------------------
    def save(self, page: StoredPage, html: bytes | None, *, validators: Validators | None,
             entry_fingerprint: str | None) -> None:
        """Write the page files, then the record that points at them."""
        key = article_key(page.article.id)
        if html is not None:
            _write_atomic(self.pages_dir / f"{key}.html", html)
            page = page.model_copy(update={"html_file": f"{key}.html"})
        elif (self.pages_dir / f"{key}.html").exists() and page.summary_only is None:
            page = page.model_copy(update={"html_file": f"{key}.html"})
        _write_atomic(self.pages_dir / f"{key}.json", page.model_dump_json(indent=2).encode())
        _write_atomic(self.pages_dir / f"{key}.txt", readable(page).encode())
        validators = validators or Validators()
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO pages (url, article_id, etag, last_modified, entry_fingerprint, summary_only, "
                "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "article_id = excluded.article_id, etag = excluded.etag, "
                "last_modified = excluded.last_modified, "
                "entry_fingerprint = excluded.entry_fingerprint, summary_only = excluded.summary_only, "
                "checked_at = excluded.checked_at",
                (page.fetched_url, page.article.id, validators.etag, validators.last_modified,
                 entry_fingerprint, page.summary_only, page.fetched_at))

    def load(self, article_id: str) -> StoredPage | None:
        path = self.pages_dir / f"{article_key(article_id)}.json"
        try:
            return StoredPage.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):
            return None

    def has_pages(self) -> bool:
        return self.pages_dir.is_dir() and any(self.pages_dir.glob("*.json"))

    def stored_articles(self) -> tuple[list[Article], list[Failure]]:
        """Every stored web article, for a rebuild without the network."""
        articles: list[Article] = []
        failures: list[Failure] = []
        if not self.pages_dir.is_dir():
            return articles, failures
        for path in sorted(self.pages_dir.glob("*.json")):
            try:
                articles.append(StoredPage.model_validate_json(path.read_bytes()).article)
            except (OSError, ValidationError, ValueError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                failures.append(Failure(path=str(path), error=f"unreadable stored page: {reason}"))
        return articles, failures


def readable(page: StoredPage) -> str:
    """The stored article as a moderator would like to read it."""
    article = page.article
    byline = " · ".join(str(part) for part in (article.source, article.author, article.published) if part)
    lines = [article.title or "(no title)"]
    if byline:
        lines.append(byline)
    lines.append(article.url or article.id)
    lines.append(f"fetched {page.fetched_at} from {page.final_url or page.fetched_url}"
                 + (f" (feed {page.feed})" if page.feed else ""))
    if page.summary_only:
        lines.append(f"feed summary only: {page.summary_only}")
    return "\n".join(lines) + "\n\n" + article.text + "\n"


def _write_atomic(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
