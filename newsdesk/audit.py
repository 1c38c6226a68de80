"""The audit trail: every answer any front end gave, its cited passages, feedback and moderators' actions.

One SQLite file in the data directory (`settings.audit_db_path`), in WAL mode,
shared by the Discord bot (its Sources / feedback / Retract / Hide buttons and
/review, /feedback), the command line (`newsdesk audit ...`) and the review
page. Each answer is written in one transaction with all its parts, so a
crash leaves either the whole record or nothing. Each thread gets its own
connection and writes go through one lock per process (plus SQLite's busy
timeout across processes), so the bot may record answers from many worker
threads at once.

API (everything a front end needs; ids are 12-character tokens of [a-z2-7],
safe inside a Discord custom_id)::

    store = AuditStore.from_settings(settings)          # or AuditStore(path); creates/migrates the file
    store.close()                                       # also a context manager

    # writing an answer (one transaction; returns the new answer id)
    answer_id = store.record_answer(
        result: AnswerResult, *, front_end: str,        # "discord", "cli", "chat", "eval", ...
        asker_id: str | int | None = None, asker_name: str | None = None,
        guild_id: int | None = None, channel_id: int | None = None,
        thread_id: int | None = None, message_id: int | None = None,
        turns: Sequence[Turn] = (), created_at: datetime | None = None) -> str
    store.add_bot_message(answer_id, channel_id: int, message_id: int) -> None   # each message the bot sent
    store.answer_for_bot_message(message_id: int) -> str | None
    store.thread_turns(thread_id: int, limit=10) -> list[Turn]   # a Discord thread's earlier exchanges

    # reading
    store.get_answer(answer_id) -> AnswerRecord | None   # full record: citations, retrieved, turns,
                                                         # feedback counts, retraction, bot messages
    record.to_result() -> AnswerResult                   # to render it again (Sources button)
    store.list_answers(AnswerFilter(flagged=False, user_id=None, article_id=None, since=None,
                                    until=None, front_end=None),
                       limit=20, offset=0) -> AnswerPage  # .items: list[AnswerSummary], .total, newest first
    store.iter_answers(AnswerFilter()) -> Iterator[AnswerRecord]   # oldest first, for exports

    # feedback: one vote per user per answer, changeable; vote is +1, -1, or 0 to withdraw
    store.set_feedback(answer_id, user_id, vote: int, user_name: str | None = None) -> FeedbackCounts
    store.get_vote(answer_id, user_id) -> int            # +1, -1 or 0
    store.feedback_counts(answer_id) -> FeedbackCounts   # .up, .down
    store.feedback_summary(since=None, until=None, limit=10) -> FeedbackSummary
        # .up, .down totals in the period, .most_down_voted: list[AnswerSummary]

    # moderators (every call is logged with who and when)
    store.retract(answer_id, moderator_id, reason: str, moderator_name=None) -> AnswerRecord
    store.unretract(answer_id, moderator_id, moderator_name=None) -> AnswerRecord
    store.hide_article(article_id, moderator_id, reason=None, moderator_name=None) -> bool  # False: was hidden
    store.unhide_article(article_id, moderator_id, moderator_name=None) -> bool             # False: wasn't
    store.hidden_articles() -> set[str]                  # cheap; pass the bound method to the engine
    store.hidden_article_details() -> list[HiddenArticle]
    store.moderator_actions(answer_id=None, article_id=None, limit=100) -> list[ModeratorAction]

    # retention and privacy
    store.purge_older_than(days: int, now=None) -> int   # answers deleted
    store.purge_expired() -> int                         # by AUDIT_RETENTION_DAYS; 0 when unset (keep)
        # (record_answer also runs it, at most hourly, when AUDIT_RETENTION_DAYS is set)
    store.forget_user(user_id) -> ForgetReport           # their answers and votes; anonymised as moderator;
        # copies of their questions in others' thread follow-ups (turns, search query) become "[removed]"

Errors: `AuditError` (cannot open, newer schema), `UnknownAnswer` (no such answer id), `ValueError`
for a bad vote or an empty reason. Times are timezone-aware UTC datetimes.

Schema versions live in `MIGRATIONS` (PRAGMA user_version is the number applied); a new version
appends a step and never edits an old one.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, Field

from newsdesk.config import Settings
from newsdesk.results import AnswerResult, Citation, Retrieved, Turn

BUSY_TIMEOUT_MS = 30_000
PURGE_EVERY = timedelta(hours=1)
_log = logging.getLogger(__name__)
DEFAULT_PAGE = 20
FORGOTTEN = "forgotten"
REMOVED = "[removed]"


class AuditError(RuntimeError):
    """The audit database cannot be opened or used; the message says what to do."""


class UnknownAnswer(AuditError, KeyError):
    """No answer with that id (it may have been purged or forgotten)."""

    def __str__(self) -> str:
        return f"no answer with id {self.args[0]!r} in the audit trail"


# -- records -------------------------------------------------------------------------

class StoredCitation(BaseModel):
    """A cited passage exactly as it was when the answer was given (nothing excluded)."""

    n: int
    article_id: str
    chunk_id: str
    text: str
    start: int | None = None
    end: int | None = None
    title: str | None = None
    source: str | None = Field(None, description="The outlet.")
    published: str | None = None
    url: str | None = None
    author: str | None = None
    quote: str | None = None

    @property
    def article_version(self) -> str | None:
        """The article-hash prefix baked into the chunk id, to tell whether the article changed since."""
        parts = self.chunk_id.split(":")
        return parts[1] if len(parts) == 3 else None

    def to_citation(self) -> Citation:
        return Citation(**self.model_dump())


class FeedbackCounts(BaseModel):
    up: int = 0
    down: int = 0


class Retraction(BaseModel):
    at: datetime
    moderator_id: str
    moderator_name: str | None = None
    reason: str


class BotMessage(BaseModel):
    channel_id: int
    message_id: int


class AnswerSummary(BaseModel):
    """One line of a listing."""

    id: str
    created_at: datetime
    front_end: str
    asker_id: str | None = None
    asker_name: str | None = None
    question: str
    answer: str
    refused: bool
    answerer: str
    citation_count: int = 0
    feedback: FeedbackCounts = Field(default_factory=FeedbackCounts)
    retracted: bool = False


class AnswerRecord(BaseModel):
    """Everything kept about one answer."""

    id: str
    created_at: datetime
    front_end: str
    asker_id: str | None = None
    asker_name: str | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    thread_id: int | None = None
    message_id: int | None = None
    question: str
    turns: list[Turn] = Field(default_factory=list)
    answer: str
    answerer: str
    refused: bool
    latency_ms: float
    note: str | None = None
    search_query: str | None = None
    retrieved: list[Retrieved] = Field(default_factory=list)
    citations: list[StoredCitation] = Field(default_factory=list)
    feedback: FeedbackCounts = Field(default_factory=FeedbackCounts)
    retraction: Retraction | None = None
    bot_messages: list[BotMessage] = Field(default_factory=list)

    def to_result(self) -> AnswerResult:
        return AnswerResult(
            question=self.question, answer=self.answer, refused=self.refused,
            citations=[c.to_citation() for c in self.citations], retrieved=self.retrieved,
            answerer=self.answerer, latency_ms=self.latency_ms, note=self.note,
            search_query=self.search_query,
        )


class AnswerFilter(BaseModel):
    """Which answers a listing shows; every field narrows it, None means any."""

    flagged: bool = Field(False, description="Only answers with at least one thumbs-down.")
    user_id: str | None = None
    article_id: str | None = Field(None, description="Only answers citing this article.")
    since: datetime | date | None = None
    until: datetime | date | None = None
    front_end: str | None = None


class AnswerPage(BaseModel):
    items: list[AnswerSummary]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


class FeedbackSummary(BaseModel):
    since: datetime | None = None
    until: datetime | None = None
    up: int = 0
    down: int = 0
    most_down_voted: list[AnswerSummary] = Field(default_factory=list)


class ModeratorAction(BaseModel):
    id: int
    at: datetime
    moderator_id: str
    moderator_name: str | None = None
    action: str = Field(description="retract, unretract, hide or unhide")
    answer_id: str | None = None
    article_id: str | None = None
    reason: str | None = None


class HiddenArticle(BaseModel):
    article_id: str
    hidden_at: datetime
    moderator_id: str
    moderator_name: str | None = None
    reason: str | None = None


class ForgetReport(BaseModel):
    answers: int = 0
    votes: int = 0
    moderator_actions_anonymised: int = 0
    copies_removed: int = Field(0, description="Turns and search queries in others' follow-ups scrubbed.")


# -- schema ----------------------------------------------------------------------------

MIGRATIONS: list[str] = [
    # 1: answers with their parts, feedback, and the messages the bot sent for them.
    """
    CREATE TABLE answers (
        id            TEXT PRIMARY KEY,
        created_at    TEXT NOT NULL,
        front_end     TEXT NOT NULL,
        asker_id      TEXT,
        asker_name    TEXT,
        guild_id      INTEGER,
        channel_id    INTEGER,
        thread_id     INTEGER,
        message_id    INTEGER,
        question      TEXT NOT NULL,
        answer        TEXT NOT NULL,
        answerer      TEXT NOT NULL,
        refused       INTEGER NOT NULL,
        latency_ms    REAL NOT NULL,
        note          TEXT,
        search_query  TEXT
    );
    CREATE INDEX answers_created ON answers(created_at);
    CREATE INDEX answers_asker ON answers(asker_id);
    CREATE TABLE turns (
        answer_id TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        position  INTEGER NOT NULL,
        question  TEXT NOT NULL,
        answer    TEXT NOT NULL,
        PRIMARY KEY (answer_id, position)
    );
    CREATE TABLE retrieved (
        answer_id  TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        rank       INTEGER NOT NULL,
        article_id TEXT NOT NULL,
        chunk_id   TEXT NOT NULL,
        score      REAL NOT NULL,
        PRIMARY KEY (answer_id, rank)
    );
    CREATE TABLE citations (
        answer_id  TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        n          INTEGER NOT NULL,
        article_id TEXT NOT NULL,
        chunk_id   TEXT NOT NULL,
        text       TEXT NOT NULL,
        start      INTEGER,
        "end"      INTEGER,
        title      TEXT,
        source     TEXT,
        published  TEXT,
        url        TEXT,
        author     TEXT,
        quote      TEXT,
        PRIMARY KEY (answer_id, n)
    );
    CREATE INDEX citations_article ON citations(article_id);
    CREATE TABLE feedback (
        answer_id  TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        user_name  TEXT,
        vote       INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE INDEX feedback_user ON feedback(user_id);
    CREATE TABLE bot_messages (
        answer_id  TEXT NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL PRIMARY KEY
    );
    CREATE INDEX bot_messages_answer ON bot_messages(answer_id);
    """,
    # 2: moderators: retraction on the answer, hidden articles, and a log of every action.
    """
    ALTER TABLE answers ADD COLUMN retracted_at TEXT;
    ALTER TABLE answers ADD COLUMN retracted_by TEXT;
    ALTER TABLE answers ADD COLUMN retracted_by_name TEXT;
    ALTER TABLE answers ADD COLUMN retraction_reason TEXT;
    CREATE TABLE hidden_articles (
        article_id     TEXT PRIMARY KEY,
        hidden_at      TEXT NOT NULL,
        moderator_id   TEXT NOT NULL,
        moderator_name TEXT,
        reason         TEXT
    );
    CREATE TABLE moderator_actions (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        at             TEXT NOT NULL,
        moderator_id   TEXT NOT NULL,
        moderator_name TEXT,
        action         TEXT NOT NULL,
        answer_id      TEXT REFERENCES answers(id) ON DELETE CASCADE,
        article_id     TEXT,
        reason         TEXT
    );
    CREATE INDEX moderator_actions_answer ON moderator_actions(answer_id);
    CREATE INDEX moderator_actions_article ON moderator_actions(article_id);
    """,
    # 3: follow-ups in a Discord thread read the thread's earlier answers.
    """
    CREATE INDEX answers_thread ON answers(thread_id);
    """,
    # 4: candidates from outside the question's outlet or dates are listed, and marked.
    """
    ALTER TABLE retrieved ADD COLUMN outside_filters INTEGER NOT NULL DEFAULT 0;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def _split_statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to `target` in one transaction per step; returns the version it was at."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise AuditError(
                f"the audit database has schema version {current}, newer than this newsdesk knows "
                f"({SCHEMA_VERSION}); upgrade newsdesk"
            )
        for version in range(current + 1, target + 1):
            for statement in _split_statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
        return current
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- time -------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime | date) -> str:
    """Fixed-width UTC ISO text, so string order is time order."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def new_answer_id() -> str:
    """12 characters of base32 (60 random bits): short enough to type, fine in a custom_id."""
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()[:12]


def _text_id(value: str | int | None) -> str | None:
    return None if value is None else str(value)


# -- the store ----------------------------------------------------------------------------

class AuditStore:
    """The audit database; safe to share between threads (one connection per thread)."""

    def __init__(self, path: Path | str, *, retention_days: int | None = None):
        if retention_days is not None and retention_days < 0:
            raise AuditError(f"AUDIT_RETENTION_DAYS must be 0 or more days, not {retention_days}")
        self.path = Path(path)
        self.retention_days = retention_days
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        self._next_purge: datetime | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditError(f"cannot create the data directory {self.path.parent}: {exc.strerror}") from None
        conn = self._conn()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with self._write_lock:
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AuditError(f"cannot open the audit database {self.path}: {exc}") from None
        except AuditError:
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> "AuditStore":
        return cls(settings.audit_db_path, retention_days=settings.audit_retention_days)

    def __enter__(self) -> "AuditStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- connections and transactions ---------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise AuditError("the audit store is closed")
            conn = None
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA secure_delete=ON")  # forgotten text is overwritten, not left in free pages
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                raise AuditError(f"cannot open the audit database {self.path}: {exc}") from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it commits, or none of it (also on a crash)."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence | dict = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return self._conn().execute("PRAGMA user_version").fetchone()[0]

    # -- answers ----------------------------------------------------------------------------
    def record_answer(self, result: AnswerResult, *, front_end: str, asker_id: str | int | None = None,
                      asker_name: str | None = None, guild_id: int | None = None,
                      channel_id: int | None = None, thread_id: int | None = None,
                      message_id: int | None = None, turns: Sequence[Turn] = (),
                      created_at: datetime | None = None) -> str:
        """Store one answer with every part of it, atomically; returns its id."""
        if not front_end:
            raise ValueError("front_end is required (discord, cli, chat, eval, ...)")
        stamp = _stamp(created_at or _now())
        with self._write() as conn:
            answer_id = new_answer_id()
            while conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone():
                answer_id = new_answer_id()
            conn.execute(
                "INSERT INTO answers (id, created_at, front_end, asker_id, asker_name, guild_id, channel_id,"
                " thread_id, message_id, question, answer, answerer, refused, latency_ms, note, search_query)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (answer_id, stamp, front_end, _text_id(asker_id), asker_name, guild_id, channel_id,
                 thread_id, message_id, result.question, result.answer, result.answerer,
                 int(result.refused), float(result.latency_ms), result.note, result.search_query),
            )
            conn.executemany(
                "INSERT INTO turns (answer_id, position, question, answer) VALUES (?,?,?,?)",
                [(answer_id, i, t.question, t.answer) for i, t in enumerate(turns)],
            )
            conn.executemany(
                "INSERT INTO retrieved (answer_id, rank, article_id, chunk_id, score, outside_filters)"
                " VALUES (?,?,?,?,?,?)",
                [(answer_id, i, r.article_id, r.chunk_id, float(r.score), int(r.outside_filters))
                 for i, r in enumerate(result.retrieved)],
            )
            conn.executemany(
                'INSERT INTO citations (answer_id, n, article_id, chunk_id, text, start, "end", title, source,'
                " published, url, author, quote) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(answer_id, c.n, c.article_id, c.chunk_id, c.text, c.start, c.end, c.title, c.source,
                  c.published, c.url, c.author, c.quote) for c in result.citations],
            )
        self._purge_if_due()
        return answer_id

    def _purge_if_due(self) -> None:
        """With AUDIT_RETENTION_DAYS set, every front end that records answers also purges, hourly."""
        if self.retention_days is None:
            return
        now = _now()
        if self._next_purge is not None and now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        try:
            self.purge_expired(now=now)
        except sqlite3.Error as exc:  # the answer is stored; the purge will be tried again next hour
            _log.warning("could not purge expired audit records: %s", exc)

    def add_bot_message(self, answer_id: str, channel_id: int, message_id: int) -> None:
        """Remember a message the bot sent for this answer (Retract edits them all)."""
        with self._write() as conn:
            self._require(conn, answer_id)
            conn.execute("INSERT OR REPLACE INTO bot_messages (answer_id, channel_id, message_id) VALUES (?,?,?)",
                         (answer_id, int(channel_id), int(message_id)))

    def answer_for_bot_message(self, message_id: int) -> str | None:
        rows = self._read("SELECT answer_id FROM bot_messages WHERE message_id = ?", (int(message_id),))
        return rows[0]["answer_id"] if rows else None

    def thread_turns(self, thread_id: int, limit: int = 10) -> list[Turn]:
        """The last `limit` exchanges of a Discord thread, oldest first: answers given in it, and the
        answer it was started from (a thread started from a message has that message's id)."""
        rows = self._read(
            "SELECT question, answer FROM answers WHERE thread_id = ?"
            " OR id IN (SELECT answer_id FROM bot_messages WHERE message_id = ?)"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?", (int(thread_id), int(thread_id), int(limit)))
        return [Turn(question=r["question"], answer=r["answer"]) for r in reversed(rows)]

    @staticmethod
    def _require(conn: sqlite3.Connection, answer_id: str) -> None:
        if not conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone():
            raise UnknownAnswer(answer_id)

    def get_answer(self, answer_id: str) -> AnswerRecord | None:
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for all the parts
        try:
            row = conn.execute("SELECT * FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if row is None:
                return None
            turns = conn.execute("SELECT question, answer FROM turns WHERE answer_id = ? ORDER BY position",
                                 (answer_id,)).fetchall()
            retrieved = conn.execute(
                "SELECT article_id, chunk_id, score, outside_filters FROM retrieved WHERE answer_id = ?"
                " ORDER BY rank",
                (answer_id,)).fetchall()
            citations = conn.execute("SELECT * FROM citations WHERE answer_id = ? ORDER BY n",
                                     (answer_id,)).fetchall()
            messages = conn.execute("SELECT channel_id, message_id FROM bot_messages WHERE answer_id = ?"
                                    " ORDER BY rowid", (answer_id,)).fetchall()
            counts = self._counts(conn, answer_id)
        finally:
            conn.execute("COMMIT")
        retraction = None
        if row["retracted_at"]:
            retraction = Retraction(at=_parse(row["retracted_at"]), moderator_id=row["retracted_by"],
                                    moderator_name=row["retracted_by_name"], reason=row["retraction_reason"])
        return AnswerRecord(
            id=row["id"], created_at=_parse(row["created_at"]), front_end=row["front_end"],
            asker_id=row["asker_id"], asker_name=row["asker_name"], guild_id=row["guild_id"],
            channel_id=row["channel_id"], thread_id=row["thread_id"], message_id=row["message_id"],
            question=row["question"], turns=[Turn(question=t["question"], answer=t["answer"]) for t in turns],
            answer=row["answer"], answerer=row["answerer"], refused=bool(row["refused"]),
            latency_ms=row["latency_ms"], note=row["note"], search_query=row["search_query"],
            retrieved=[Retrieved(article_id=r["article_id"], chunk_id=r["chunk_id"], score=r["score"],
                                 outside_filters=bool(r["outside_filters"])) for r in retrieved],
            citations=[StoredCitation(**{k: c[k] for k in StoredCitation.model_fields}) for c in citations],
            feedback=counts, retraction=retraction,
            bot_messages=[BotMessage(channel_id=m["channel_id"], message_id=m["message_id"]) for m in messages],
        )

    # -- listing ----------------------------------------------------------------------------
    _SUMMARY_COLUMNS = (
        "a.id, a.created_at, a.front_end, a.asker_id, a.asker_name, a.question, a.answer, a.refused,"
        " a.answerer, a.retracted_at,"
        " (SELECT COUNT(*) FROM citations c WHERE c.answer_id = a.id) AS citation_count,"
        " (SELECT COUNT(*) FROM feedback f WHERE f.answer_id = a.id AND f.vote > 0) AS up,"
        " (SELECT COUNT(*) FROM feedback f WHERE f.answer_id = a.id AND f.vote < 0) AS down"
    )

    @staticmethod
    def _where(flt: AnswerFilter) -> tuple[str, list]:
        clauses, params = [], []
        if flt.flagged:
            clauses.append("EXISTS (SELECT 1 FROM feedback f WHERE f.answer_id = a.id AND f.vote < 0)")
        if flt.user_id is not None:
            clauses.append("a.asker_id = ?")
            params.append(str(flt.user_id))
        if flt.article_id is not None:
            clauses.append("EXISTS (SELECT 1 FROM citations c WHERE c.answer_id = a.id AND c.article_id = ?)")
            params.append(flt.article_id)
        if flt.since is not None:
            clauses.append("a.created_at >= ?")
            params.append(_stamp(flt.since))
        if flt.until is not None:
            clauses.append("a.created_at < ?")
            params.append(_stamp(flt.until))
        if flt.front_end is not None:
            clauses.append("a.front_end = ?")
            params.append(flt.front_end)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _summary(row: sqlite3.Row) -> AnswerSummary:
        return AnswerSummary(
            id=row["id"], created_at=_parse(row["created_at"]), front_end=row["front_end"],
            asker_id=row["asker_id"], asker_name=row["asker_name"], question=row["question"],
            answer=row["answer"], refused=bool(row["refused"]), answerer=row["answerer"],
            citation_count=row["citation_count"], feedback=FeedbackCounts(up=row["up"], down=row["down"]),
            retracted=row["retracted_at"] is not None,
        )

    def list_answers(self, flt: AnswerFilter | None = None, *, limit: int = DEFAULT_PAGE,
                     offset: int = 0) -> AnswerPage:
        """One page of answers, newest first, with the total that match."""
        flt = flt or AnswerFilter()
        limit, offset = max(1, int(limit)), max(0, int(offset))
        where, params = self._where(flt)
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            total = conn.execute(f"SELECT COUNT(*) FROM answers a{where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {self._SUMMARY_COLUMNS} FROM answers a{where}"
                " ORDER BY a.created_at DESC, a.rowid DESC LIMIT ? OFFSET ?", [*params, limit, offset],
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return AnswerPage(items=[self._summary(r) for r in rows], total=total, offset=offset, limit=limit)

    def iter_answers(self, flt: AnswerFilter | None = None) -> Iterator[AnswerRecord]:
        """Full records, oldest first (exports)."""
        where, params = self._where(flt or AnswerFilter())
        ids = [r["id"] for r in self._read(f"SELECT a.id FROM answers a{where} ORDER BY a.created_at, a.rowid",
                                           params)]
        for answer_id in ids:
            record = self.get_answer(answer_id)
            if record is not None:
                yield record

    # -- feedback ---------------------------------------------------------------------------
    @staticmethod
    def _counts(conn: sqlite3.Connection, answer_id: str) -> FeedbackCounts:
        row = conn.execute(
            "SELECT COALESCE(SUM(vote > 0), 0) AS up, COALESCE(SUM(vote < 0), 0) AS down"
            " FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()
        return FeedbackCounts(up=row["up"], down=row["down"])

    def set_feedback(self, answer_id: str, user_id: str | int, vote: int,
                     user_name: str | None = None) -> FeedbackCounts:
        """One vote per user per answer: +1, -1, or 0 to withdraw it. Returns the new counts."""
        if vote not in (-1, 0, 1):
            raise ValueError("a vote is +1, -1 or 0")
        with self._write() as conn:
            self._require(conn, answer_id)
            if vote == 0:
                conn.execute("DELETE FROM feedback WHERE answer_id = ? AND user_id = ?", (answer_id, str(user_id)))
            else:
                conn.execute(
                    "INSERT INTO feedback (answer_id, user_id, user_name, vote, updated_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (answer_id, user_id) DO UPDATE SET vote = excluded.vote,"
                    " user_name = excluded.user_name, updated_at = excluded.updated_at",
                    (answer_id, str(user_id), user_name, vote, _stamp(_now())),
                )
            return self._counts(conn, answer_id)

    def get_vote(self, answer_id: str, user_id: str | int) -> int:
        rows = self._read("SELECT vote FROM feedback WHERE answer_id = ? AND user_id = ?",
                          (answer_id, str(user_id)))
        return rows[0]["vote"] if rows else 0

    def feedback_counts(self, answer_id: str) -> FeedbackCounts:
        return self._counts(self._conn(), answer_id)

    def feedback_summary(self, since: datetime | date | None = None, until: datetime | date | None = None,
                         limit: int = 10) -> FeedbackSummary:
        """Votes on answers given in the period, and the answers with most thumbs-down."""
        where, params = self._where(AnswerFilter(since=since, until=until))
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            totals = conn.execute(
                "SELECT COALESCE(SUM(f.vote > 0), 0) AS up, COALESCE(SUM(f.vote < 0), 0) AS down"
                f" FROM feedback f JOIN answers a ON a.id = f.answer_id{where}", params).fetchone()
            flagged_where = (where + " AND" if where else " WHERE") + \
                " EXISTS (SELECT 1 FROM feedback f WHERE f.answer_id = a.id AND f.vote < 0)"
            rows = conn.execute(
                f"SELECT {self._SUMMARY_COLUMNS} FROM answers a{flagged_where}"
                " ORDER BY down DESC, up ASC, a.created_at DESC LIMIT ?", [*params, max(1, int(limit))],
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        return FeedbackSummary(
            since=_parse(_stamp(since)) if since else None, until=_parse(_stamp(until)) if until else None,
            up=totals["up"], down=totals["down"], most_down_voted=[self._summary(r) for r in rows],
        )

    # -- moderators -------------------------------------------------------------------------
    @staticmethod
    def _log(conn: sqlite3.Connection, action: str, moderator_id: str | int, moderator_name: str | None, *,
             answer_id: str | None = None, article_id: str | None = None, reason: str | None = None) -> str:
        stamp = _stamp(_now())
        conn.execute(
            "INSERT INTO moderator_actions (at, moderator_id, moderator_name, action, answer_id, article_id,"
            " reason) VALUES (?,?,?,?,?,?,?)",
            (stamp, str(moderator_id), moderator_name, action, answer_id, article_id, reason),
        )
        return stamp

    def retract(self, answer_id: str, moderator_id: str | int, reason: str,
                moderator_name: str | None = None) -> AnswerRecord:
        """Mark an answer retracted (the bot then edits its messages); a second retract updates the reason."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a retraction needs a reason")
        with self._write() as conn:
            self._require(conn, answer_id)
            stamp = self._log(conn, "retract", moderator_id, moderator_name, answer_id=answer_id, reason=reason)
            conn.execute(
                "UPDATE answers SET retracted_at = ?, retracted_by = ?, retracted_by_name = ?,"
                " retraction_reason = ? WHERE id = ?",
                (stamp, str(moderator_id), moderator_name, reason, answer_id),
            )
        return self.get_answer(answer_id)

    def unretract(self, answer_id: str, moderator_id: str | int,
                  moderator_name: str | None = None) -> AnswerRecord:
        with self._write() as conn:
            self._require(conn, answer_id)
            self._log(conn, "unretract", moderator_id, moderator_name, answer_id=answer_id)
            conn.execute("UPDATE answers SET retracted_at = NULL, retracted_by = NULL, retracted_by_name = NULL,"
                         " retraction_reason = NULL WHERE id = ?", (answer_id,))
        return self.get_answer(answer_id)

    def hide_article(self, article_id: str, moderator_id: str | int, reason: str | None = None,
                     moderator_name: str | None = None) -> bool:
        """Keep an article out of every later answer; False when it was hidden already."""
        article_id = (article_id or "").strip()
        if not article_id:
            raise ValueError("an article id is required")
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM hidden_articles WHERE article_id = ?", (article_id,)).fetchone():
                return False
            stamp = self._log(conn, "hide", moderator_id, moderator_name, article_id=article_id, reason=reason)
            conn.execute("INSERT INTO hidden_articles (article_id, hidden_at, moderator_id, moderator_name, reason)"
                         " VALUES (?,?,?,?,?)", (article_id, stamp, str(moderator_id), moderator_name, reason))
            return True

    def unhide_article(self, article_id: str, moderator_id: str | int, moderator_name: str | None = None) -> bool:
        """Let an article back into answers; False when it was not hidden."""
        with self._write() as conn:
            if conn.execute("DELETE FROM hidden_articles WHERE article_id = ?", (article_id,)).rowcount == 0:
                return False
            self._log(conn, "unhide", moderator_id, moderator_name, article_id=article_id)
            return True

    def hidden_articles(self) -> set[str]:
        """The ids of hidden articles, read fresh (one indexed read) so other processes' changes count."""
        return {r[0] for r in self._conn().execute("SELECT article_id FROM hidden_articles")}

    def hidden_article_details(self) -> list[HiddenArticle]:
        return [HiddenArticle(article_id=r["article_id"], hidden_at=_parse(r["hidden_at"]),
                              moderator_id=r["moderator_id"], moderator_name=r["moderator_name"],
                              reason=r["reason"])
                for r in self._read("SELECT * FROM hidden_articles ORDER BY hidden_at")]

    def moderator_actions(self, answer_id: str | None = None, article_id: str | None = None,
                          limit: int = 100) -> list[ModeratorAction]:
        """Newest first."""
        clauses, params = [], []
        if answer_id is not None:
            clauses.append("answer_id = ?")
            params.append(answer_id)
        if article_id is not None:
            clauses.append("article_id = ?")
            params.append(article_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._read(f"SELECT * FROM moderator_actions{where} ORDER BY id DESC LIMIT ?",
                          [*params, max(1, int(limit))])
        return [ModeratorAction(id=r["id"], at=_parse(r["at"]), moderator_id=r["moderator_id"],
                                moderator_name=r["moderator_name"], action=r["action"],
                                answer_id=r["answer_id"], article_id=r["article_id"], reason=r["reason"])
                for r in rows]

    # -- retention and privacy ------------------------------------------------------------------
    def purge_older_than(self, days: int, now: datetime | None = None) -> int:
        """Delete answers (with all their parts, votes and actions) older than `days` days."""
        if days < 0:
            raise ValueError("retention days must be 0 or more")
        cutoff = _stamp((now or _now()) - timedelta(days=days))
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,)).rowcount
        if deleted:
            self._checkpoint()
        return deleted

    def purge_expired(self, now: datetime | None = None) -> int:
        """Apply AUDIT_RETENTION_DAYS; with no retention set, records are kept and nothing is deleted."""
        if self.retention_days is None:
            return 0
        return self.purge_older_than(self.retention_days, now=now)

    def _checkpoint(self) -> None:
        """Move the log into the database file and empty it, so deleted text is gone from the log too."""
        with self._write_lock:
            self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def forget_user(self, user_id: str | int) -> ForgetReport:
        """Delete everything one person asked and voted; their moderator actions stay, anonymised."""
        user = str(user_id)
        with self._write() as conn:
            copies = self._scrub_copies(conn, user)
            votes = conn.execute("DELETE FROM feedback WHERE user_id = ?", (user,)).rowcount
            answers = conn.execute("DELETE FROM answers WHERE asker_id = ?", (user,)).rowcount
            actions = conn.execute("UPDATE moderator_actions SET moderator_id = ?, moderator_name = NULL"
                                   " WHERE moderator_id = ?", (FORGOTTEN, user)).rowcount
            conn.execute("UPDATE hidden_articles SET moderator_id = ?, moderator_name = NULL WHERE moderator_id = ?",
                         (FORGOTTEN, user))
            conn.execute("UPDATE answers SET retracted_by = ?, retracted_by_name = NULL WHERE retracted_by = ?",
                         (FORGOTTEN, user))
        self._checkpoint()
        return ForgetReport(answers=answers, votes=votes, moderator_actions_anonymised=actions,
                            copies_removed=copies)

    @staticmethod
    def _scrub_copies(conn: sqlite3.Connection, user: str) -> int:
        """A follow-up in a thread stores the thread's earlier exchanges as its turns, and its search query
        is built from them, so other people's records hold copies of this person's questions (and of the
        answers to them). Those copies become REMOVED; returns how many turns and queries changed."""
        asked = conn.execute("SELECT question FROM answers WHERE asker_id = ?", (user,))
        questions = sorted({r[0] for r in asked}, key=len, reverse=True)
        if not questions:
            return 0
        followers = conn.execute(
            "SELECT id, question, search_query FROM answers WHERE asker_id IS NOT ? AND thread_id IN ("
            " SELECT thread_id FROM answers WHERE asker_id = ?"
            " UNION SELECT message_id FROM answers WHERE asker_id = ?"  # a thread started from their question
            " UNION SELECT b.message_id FROM bot_messages b JOIN answers a ON a.id = b.answer_id"
            " WHERE a.asker_id = ?)", (user, user, user, user)).fetchall()
        theirs = set(questions)
        changed = 0
        for follower in followers:
            turns = conn.execute("SELECT position, question FROM turns WHERE answer_id = ? ORDER BY position",
                                 (follower["id"],)).fetchall()
            copied = [t["position"] for t in turns if t["question"] in theirs]
            conn.executemany("UPDATE turns SET question = ?, answer = ? WHERE answer_id = ? AND position = ?",
                             [(REMOVED, REMOVED, follower["id"], position) for position in copied])
            changed += len(copied)
            query = _scrubbed_query(follower["search_query"], questions, bool(copied),
                                    [t["question"] for t in turns], follower["question"])
            if query != follower["search_query"]:
                conn.execute("UPDATE answers SET search_query = ? WHERE id = ?", (query, follower["id"]))
                changed += 1
        return changed


def _scrubbed_query(query: str | None, questions: Sequence[str], history_had_theirs: bool,
                    history: Sequence[str], question: str) -> str | None:
    """A follow-up's search query without the forgotten questions. Their verbatim copies are replaced; a
    query rewritten (by the LLM) from a history that held one of them cannot be told apart from its
    source, so it goes whole, unless it is the plain join of a kept question and the follow-up."""
    if query is None:
        return None
    scrubbed = query
    for text in questions:
        scrubbed = scrubbed.replace(text, REMOVED)
    if scrubbed != query or not history_had_theirs:
        return scrubbed
    if history and query == f"{history[-1]} {question}":
        return query
    return REMOVED


# -- exports -----------------------------------------------------------------------------------

CSV_COLUMNS = [
    "id", "created_at", "front_end", "asker_id", "asker_name", "guild_id", "channel_id", "thread_id",
    "message_id", "question", "answer", "answerer", "refused", "latency_ms", "up", "down", "retracted_at",
    "retracted_by", "retraction_reason", "cited_articles", "turns", "citations", "retrieved",
]


def _csv_row(record: AnswerRecord) -> dict:
    retraction = record.retraction
    return {
        "id": record.id, "created_at": record.created_at.isoformat(), "front_end": record.front_end,
        "asker_id": record.asker_id, "asker_name": record.asker_name, "guild_id": record.guild_id,
        "channel_id": record.channel_id, "thread_id": record.thread_id, "message_id": record.message_id,
        "question": record.question, "answer": record.answer, "answerer": record.answerer,
        "refused": int(record.refused), "latency_ms": record.latency_ms, "up": record.feedback.up,
        "down": record.feedback.down, "retracted_at": retraction.at.isoformat() if retraction else "",
        "retracted_by": retraction.moderator_id if retraction else "",
        "retraction_reason": retraction.reason if retraction else "",
        "cited_articles": " ".join(dict.fromkeys(c.article_id for c in record.citations)),
        "turns": json.dumps([t.model_dump() for t in record.turns], ensure_ascii=False),
        "citations": json.dumps([c.model_dump() for c in record.citations], ensure_ascii=False),
        "retrieved": json.dumps([r.model_dump() for r in record.retrieved], ensure_ascii=False),
    }


def export(store: AuditStore, out: TextIO, fmt: str, flt: AnswerFilter | None = None) -> int:
    """Write every matching record as JSON lines or CSV (parts as JSON in their cells); returns the count."""
    count = 0
    if fmt == "jsonl":
        for record in store.iter_answers(flt):
            out.write(record.model_dump_json() + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for record in store.iter_answers(flt):
            writer.writerow(_csv_row(record))
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
    return count


# -- reading it in a terminal --------------------------------------------------------------------

RELATIVE = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, *, now: datetime | None = None) -> datetime:
    """A moment from the command line: YYYY-MM-DD, an ISO date-time (UTC unless it says), or 90m/24h/7d/2w ago."""
    text = value.strip()
    if len(text) >= 2 and text[:-1].isdigit() and text[-1].lower() in RELATIVE:
        return (now or _now()) - timedelta(**{RELATIVE[text[-1].lower()]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD, an ISO date-time, or 24h / 7d / 2w") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def short_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") + "Z"


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def describe_asker(asker_id: str | None, asker_name: str | None) -> str:
    if asker_name and asker_id:
        return f"{asker_name} ({asker_id})"
    return asker_name or asker_id or "-"


def format_summary(item: AnswerSummary) -> str:
    flags = [f"+{item.feedback.up}/-{item.feedback.down}"]
    if item.refused:
        flags.append("refused")
    if item.retracted:
        flags.append("RETRACTED")
    return (f"{item.id}  {short_time(item.created_at)}  {item.front_end:<8} "
            f"{one_line(describe_asker(item.asker_id, item.asker_name), 24):<24}  {' '.join(flags):<10}  "
            f"{one_line(item.question, 70)}")


def format_page(page: AnswerPage) -> str:
    if not page.items:
        return "No answers match." if page.total == 0 else f"No answers on this page ({page.total} match)."
    lines = [format_summary(item) for item in page.items]
    first, last = page.offset + 1, page.offset + len(page.items)
    more = "; --page for more" if page.has_more else ""
    lines.append(f"-- {first}-{last} of {page.total}{more}")
    return "\n".join(lines)


def format_record(record: AnswerRecord, actions: Sequence[ModeratorAction] = ()) -> str:
    """The full record as a moderator reads it in a terminal."""
    where = ", ".join(f"{name} {value}" for name, value in (
        ("guild", record.guild_id), ("channel", record.channel_id), ("thread", record.thread_id),
        ("message", record.message_id)) if value is not None)
    lines = [
        f"Answer {record.id}  {short_time(record.created_at)}  via {record.front_end}",
        f"Asked by: {describe_asker(record.asker_id, record.asker_name)}" + (f"  [{where}]" if where else ""),
        f"Answerer: {record.answerer}  latency {record.latency_ms:.0f} ms"
        + ("  (refused)" if record.refused else ""),
        f"Feedback: +{record.feedback.up} / -{record.feedback.down}",
    ]
    if record.retraction:
        r = record.retraction
        lines.append(f"RETRACTED {short_time(r.at)} by {describe_asker(r.moderator_id, r.moderator_name)}: {r.reason}")
    if record.turns:
        lines += ["", "Conversation before it:"]
        for turn in record.turns:
            lines.append(f"  Q: {turn.question}")
            if turn.answer:
                lines.append(f"  A: {turn.answer}")
    lines += ["", f"Question: {record.question}"]
    if record.search_query and record.search_query != record.question:
        lines.append(f"Searched: {record.search_query}")
    lines += ["", record.answer]
    if record.note:
        lines += ["", f"Note: {record.note}"]
    for c in record.citations:
        details = ", ".join(p for p in (c.source, c.published, c.author) if p)
        span = f"chars {c.start}-{c.end}" if c.start is not None else "no span"
        lines += ["", f"[{c.n}] {c.title or c.article_id}" + (f" ({details})" if details else ""),
                  f"    article {c.article_id}  chunk {c.chunk_id}  {span}"]
        if c.url:
            lines.append(f"    {c.url}")
        lines += ["    " + line for line in c.text.splitlines() if line.strip()]
    if record.retrieved:
        lines += ["", "Retrieved:"]
        outside = "  (outside the question's outlet or dates)"
        lines += [f"  {r.score:7.3f}  {r.article_id}  {r.chunk_id}{outside if r.outside_filters else ''}"
                  for r in record.retrieved]
    if actions:
        lines += ["", "Moderator actions:"]
        lines += [f"  {short_time(a.at)}  {a.action}  by {describe_asker(a.moderator_id, a.moderator_name)}"
                  + (f": {a.reason}" if a.reason else "") for a in actions]
    return "\n".join(lines)


def format_feedback(summary: FeedbackSummary) -> str:
    period = "all time"
    if summary.since or summary.until:
        period = f"{short_time(summary.since) if summary.since else 'the start'} to " \
                 f"{short_time(summary.until) if summary.until else 'now'}"
    lines = [f"Feedback, answers from {period}: +{summary.up} / -{summary.down}"]
    if summary.most_down_voted:
        lines += ["", "Most down-voted:"] + [format_summary(item) for item in summary.most_down_voted]
    return "\n".join(lines)


# -- front ends ------------------------------------------------------------------------------

class RecordingAsker:
    """Wraps an engine so that every answer it gives is also recorded (for front ends without their own
    bookkeeping: `newsdesk ask` and `chat`). A trail that cannot be written is logged, never fatal."""

    def __init__(self, engine, store: AuditStore | None, *, front_end: str, asker_id: str | None = None,
                 asker_name: str | None = None):
        self.engine = engine
        self.store = store
        self.front_end = front_end
        self.asker_id = asker_id
        self.asker_name = asker_name
        self.last_answer_id: str | None = None

    def ask(self, question: str, history: Sequence[Turn] = ()) -> AnswerResult:
        result = self.engine.ask(question, history)
        self.last_answer_id = None
        if self.store is not None:
            try:
                self.last_answer_id = self.store.record_answer(
                    result, front_end=self.front_end, asker_id=self.asker_id, asker_name=self.asker_name,
                    turns=list(history))
            except (AuditError, sqlite3.Error) as exc:
                _log.warning("the answer was not recorded in the audit trail: %s", exc)
        return result


def open_trail_quietly(settings: Settings) -> AuditStore | None:
    """The audit store, or None (with a warning) when it cannot be opened: answering must go on."""
    try:
        return AuditStore.from_settings(settings)
    except AuditError as exc:
        _log.warning("%s; answering without the audit trail (hidden articles are not applied)", exc)
        return None
