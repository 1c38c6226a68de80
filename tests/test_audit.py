"""The audit store on real SQLite files, with answers built from a real ingested corpus."""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from audit_support import (
    HARBOUR,
    MONGOLIA,
    SCRIPTED,
    answer_from_chunks,
    chunks_of,
    ingest_corpus,
    make_settings,
    open_chunks,
)

from newsdesk.audit import (
    REMOVED,
    SCHEMA_VERSION,
    AnswerFilter,
    AuditError,
    AuditStore,
    UnknownAnswer,
    export,
    migrate,
)
from newsdesk.engine import Engine
from newsdesk.results import AnswerResult, Turn

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory, embedder):
    settings = make_settings(tmp_path_factory.mktemp("index"))
    ingest_corpus(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="module")
def corpus(index_settings):
    return open_chunks(index_settings)


@pytest.fixture(scope="module")
def answers(corpus) -> dict[str, AnswerResult]:
    mongolia = [cid for cid, _, _ in chunks_of(corpus, MONGOLIA.id)]
    harbour = [cid for cid, _, _ in chunks_of(corpus, HARBOUR.id)]
    scripted = [cid for cid, _, _ in chunks_of(corpus, SCRIPTED.id)]
    return {
        "mongolia": answer_from_chunks(corpus, "How many Russians crossed at Altanbulag?", mongolia[::-1]),
        "harbour": answer_from_chunks(corpus, "When did the harbour ferry resume?", harbour),
        "scripted": answer_from_chunks(corpus, "What did the page carry?", scripted),
    }


@pytest.fixture
def store(tmp_path):
    with AuditStore(tmp_path / "newsdesk.sqlite3") as opened:
        yield opened


def test_every_field_round_trips(store, answers):
    mongolia = answers["mongolia"]
    listed = [*mongolia.retrieved, mongolia.retrieved[0].model_copy(update={"chunk_id": "elsewhere:v:0",
                                                                           "outside_filters": True})]
    result = mongolia.model_copy(update={"note": "2 markers dropped", "retrieved": listed})
    turns = [Turn(question="Who is fleeing?", answer="Russians [1]."), Turn(question="Where to?", answer="")]
    asked = datetime(2025, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    answer_id = store.record_answer(
        result, front_end="discord", asker_id=123456789012345678, asker_name="Ada <b>", guild_id=1 << 60,
        channel_id=2 << 55, thread_id=3 << 50, message_id=4 << 45, turns=turns, created_at=asked,
    )
    store.add_bot_message(answer_id, channel_id=3 << 50, message_id=5 << 45)
    store.add_bot_message(answer_id, channel_id=3 << 50, message_id=6 << 45)

    record = store.get_answer(answer_id)

    assert record.created_at == asked
    assert (record.front_end, record.asker_id, record.asker_name) == ("discord", "123456789012345678", "Ada <b>")
    assert (record.guild_id, record.channel_id, record.thread_id, record.message_id) == \
        (1 << 60, 2 << 55, 3 << 50, 4 << 45)
    assert record.turns == turns
    assert (record.question, record.answer, record.answerer, record.refused) == \
        (result.question, result.answer, result.answerer, False)
    assert record.latency_ms == result.latency_ms
    assert (record.note, record.search_query) == ("2 markers dropped", result.search_query)
    assert record.retrieved == result.retrieved
    assert [r.outside_filters for r in record.retrieved] == [False, False, True]
    assert len(record.citations) == 2
    for stored, cited in zip(record.citations, result.citations):
        # Every field, including those excluded from the engine's JSON (span, author, quote).
        assert stored.model_dump() == cited.model_dump(exclude=set()) | {
            "start": cited.start, "end": cited.end, "author": cited.author, "quote": cited.quote}
        assert stored.title == MONGOLIA.title and stored.source == "AFP" and stored.published == "2022-09-29"
        assert stored.author == MONGOLIA.author and stored.url == MONGOLIA.url
        assert MONGOLIA.text[stored.start:stored.end] == stored.text
    assert [(m.channel_id, m.message_id) for m in record.bot_messages] == [(3 << 50, 5 << 45), (3 << 50, 6 << 45)]
    assert store.answer_for_bot_message(6 << 45) == answer_id
    assert record.to_result().model_dump() == result.model_dump()


def test_a_refusal_and_an_anonymous_cli_answer_round_trip(store):
    refusal = AnswerResult(question="Who won the 1930 World Cup?", answer="I couldn't find that in the news archive.",
                           refused=True, answerer="extractive", latency_ms=8.0)
    answer_id = store.record_answer(refusal, front_end="cli")
    record = store.get_answer(answer_id)
    assert record.refused and record.citations == [] and record.retrieved == [] and record.turns == []
    assert record.asker_id is None and record.guild_id is None and record.bot_messages == []


def test_answer_ids_are_short_unique_and_custom_id_safe(store, answers):
    ids = {store.record_answer(answers["harbour"], front_end="eval") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[a-z2-7]{12}", i) for i in ids)


def test_concurrent_writers_lose_nothing(tmp_path, answers):
    """The bot records from worker threads while another process (here: a second store) writes too."""
    path = tmp_path / "audit.sqlite3"
    first, second = AuditStore(path), AuditStore(path)
    threads_per_store, per_thread = 6, 25
    written: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_per_store * 2)

    def work(store: AuditStore, worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                result = answers["mongolia" if i % 2 else "harbour"]
                answer_id = store.record_answer(result, front_end="discord", asker_id=f"{worker}",
                                                turns=[Turn(question=f"q{worker}-{i}", answer="a")])
                store.set_feedback(answer_id, user_id=f"voter{worker}", vote=-1 if i % 3 == 0 else 1)
                with lock:
                    written.append(answer_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(store, n))
               for n, store in enumerate([first] * threads_per_store + [second] * threads_per_store)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    first.close()
    second.close()

    assert errors == []
    with AuditStore(path) as reopened:
        assert reopened.list_answers().total == threads_per_store * 2 * per_thread == len(set(written))
        for answer_id in written:
            record = reopened.get_answer(answer_id)
            assert len(record.citations) in (1, 2) and len(record.turns) == 1
            assert record.feedback.up + record.feedback.down == 1
        flagged = reopened.list_answers(AnswerFilter(flagged=True)).total
        assert flagged == threads_per_store * 2 * len(range(0, per_thread, 3))


def test_a_failed_write_leaves_no_half_record(store, answers):
    broken = answers["mongolia"].model_copy(deep=True)
    broken.citations[1].n = broken.citations[0].n  # the second citation row violates the key
    with pytest.raises(sqlite3.IntegrityError):
        store.record_answer(broken, front_end="cli", turns=[Turn(question="q", answer="a")])
    assert store.list_answers().total == 0
    conn = sqlite3.connect(store.path)
    for table in ("answers", "turns", "retrieved", "citations"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    conn.close()


CRASH_MID_ANSWER = """
import os, sys
sys.path.insert(0, {tests!r})
from newsdesk.audit import AuditStore
from newsdesk.results import AnswerResult, Turn
store = AuditStore({path!r})
store.record_answer(AnswerResult(question="kept", answer="a", refused=False, answerer="extractive",
                                 latency_ms=1), front_end="cli")
def turns():
    yield Turn(question="first", answer="one")
    os._exit(9)  # the process dies inside the answer's transaction
store.record_answer(AnswerResult(question="lost", answer="b", refused=False, answerer="extractive",
                                 latency_ms=1), front_end="cli", turns=turns())
"""


def test_a_process_killed_mid_answer_leaves_no_half_record(tmp_path):
    path = tmp_path / "audit.sqlite3"
    script = CRASH_MID_ANSWER.format(tests=str(REPO / "tests"), path=str(path))
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 9, completed.stderr
    with AuditStore(path) as store:
        page = store.list_answers()
        assert [item.question for item in page.items] == ["kept"]
        assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_records_from_a_previous_schema_survive_the_upgrade(tmp_path, version):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    # Written the way version 1 wrote them (the tables of version 1 are still laid out the same).
    conn.execute("INSERT INTO answers (id, created_at, front_end, asker_id, asker_name, guild_id, channel_id,"
                 " thread_id, message_id, question, answer, answerer, refused, latency_ms, note, search_query)"
                 " VALUES ('oldanswer234', '2025-01-02T03:04:05.000000+00:00', 'discord', '42', 'Grace', 1, 2, 3,"
                 " 4, 'Who crossed?', 'Russians [1].', 'extractive', 0, 99.5, NULL, 'Who crossed?')")
    conn.execute("INSERT INTO turns VALUES ('oldanswer234', 0, 'Earlier?', 'Yes.')")
    conn.execute("INSERT INTO retrieved VALUES ('oldanswer234', 0, 'afp-mongolia-2022', 'k:v:0', 0.8)")
    conn.execute("INSERT INTO citations VALUES ('oldanswer234', 1, 'afp-mongolia-2022', 'k:v:0', 'Russians.',"
                 " 10, 19, 'Title', 'AFP', '2022-09-29', 'https://example.org/x', 'Author', 'Russians.')")
    conn.execute("INSERT INTO feedback VALUES ('oldanswer234', '7', 'Linus', -1,"
                 " '2025-01-02T04:00:00.000000+00:00')")
    conn.execute("INSERT INTO bot_messages VALUES ('oldanswer234', 3, 555)")
    conn.close()

    with AuditStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        record = store.get_answer("oldanswer234")
        assert record.asker_name == "Grace" and record.question == "Who crossed?" and record.latency_ms == 99.5
        assert record.turns == [Turn(question="Earlier?", answer="Yes.")]
        assert record.citations[0].text == "Russians." and (record.citations[0].start, record.citations[0].end) \
            == (10, 19)
        assert record.retrieved[0].score == 0.8
        assert record.feedback.down == 1 and store.answer_for_bot_message(555) == "oldanswer234"
        assert record.retraction is None
        # And the new version's features work on the old record.
        assert store.retract("oldanswer234", moderator_id=1, reason="wrong figure").retraction.reason == \
            "wrong figure"
    with AuditStore(path) as reopened:  # opening again migrates nothing and keeps it all
        assert reopened.get_answer("oldanswer234").retraction.moderator_id == "1"


def test_a_database_from_a_newer_newsdesk_is_refused_untouched(tmp_path):
    path = tmp_path / "new.sqlite3"
    AuditStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(AuditError, match="newer than this newsdesk"):
        AuditStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "newsdesk.sqlite3"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(AuditError, match="cannot open the audit database"):
        AuditStore(path)


def test_feedback_is_one_changeable_vote_per_user(store, answers):
    answer_id = store.record_answer(answers["harbour"], front_end="discord")
    assert store.set_feedback(answer_id, 1, +1).model_dump() == {"up": 1, "down": 0}
    assert store.set_feedback(answer_id, 1, +1).model_dump() == {"up": 1, "down": 0}
    assert store.set_feedback(answer_id, 2, -1).model_dump() == {"up": 1, "down": 1}
    assert store.set_feedback(answer_id, 1, -1, user_name="Ada").model_dump() == {"up": 0, "down": 2}
    assert store.get_vote(answer_id, 1) == -1
    assert store.set_feedback(answer_id, 2, 0).model_dump() == {"up": 0, "down": 1}
    assert store.get_vote(answer_id, 2) == 0
    with pytest.raises(ValueError):
        store.set_feedback(answer_id, 1, 2)
    with pytest.raises(UnknownAnswer):
        store.set_feedback("nosuchanswer", 1, 1)


def test_listing_filters_and_pages(store, answers):
    base = datetime(2025, 3, 1, tzinfo=timezone.utc)
    ids = {}
    for day, (name, user) in enumerate([("mongolia", "10"), ("harbour", "11"), ("scripted", "10"),
                                        ("mongolia", "12"), ("harbour", "10")]):
        ids[day] = store.record_answer(answers[name], front_end="discord" if day % 2 else "cli", asker_id=user,
                                       asker_name=f"user{user}", created_at=base + timedelta(days=day))
    store.set_feedback(ids[1], "99", -1)
    store.set_feedback(ids[3], "99", -1)
    store.set_feedback(ids[4], "99", +1)

    assert [i.id for i in store.list_answers().items] == [ids[d] for d in (4, 3, 2, 1, 0)]
    assert [i.id for i in store.list_answers(AnswerFilter(flagged=True)).items] == [ids[3], ids[1]]
    assert [i.id for i in store.list_answers(AnswerFilter(user_id="10")).items] == [ids[4], ids[2], ids[0]]
    assert [i.id for i in store.list_answers(AnswerFilter(article_id=MONGOLIA.id)).items] == [ids[3], ids[0]]
    assert [i.id for i in store.list_answers(AnswerFilter(since=date(2025, 3, 4))).items] == [ids[4], ids[3]]
    assert [i.id for i in store.list_answers(AnswerFilter(until=date(2025, 3, 2))).items] == [ids[0]]
    assert [i.id for i in store.list_answers(AnswerFilter(front_end="cli", user_id="10")).items] == \
        [ids[4], ids[2], ids[0]]

    first = store.list_answers(limit=2)
    second = store.list_answers(limit=2, offset=2)
    last = store.list_answers(limit=2, offset=4)
    assert (first.total, first.has_more, last.has_more) == (5, True, False)
    assert [i.id for i in first.items + second.items + last.items] == [ids[d] for d in (4, 3, 2, 1, 0)]
    summary = first.items[1]
    assert (summary.asker_name, summary.citation_count, summary.feedback.down) == ("user12", 2, 1)


def test_feedback_summary_of_a_period(store, answers):
    base = datetime(2025, 6, 1, tzinfo=timezone.utc)
    old = store.record_answer(answers["harbour"], front_end="discord", created_at=base - timedelta(days=40))
    worst = store.record_answer(answers["mongolia"], front_end="discord", created_at=base)
    bad = store.record_answer(answers["scripted"], front_end="discord", created_at=base + timedelta(days=1))
    fine = store.record_answer(answers["harbour"], front_end="discord", created_at=base + timedelta(days=2))
    for user in range(3):
        store.set_feedback(worst, user, -1)
        store.set_feedback(old, user, -1)
    store.set_feedback(bad, 1, -1)
    store.set_feedback(fine, 1, +1)
    store.set_feedback(fine, 2, +1)

    summary = store.feedback_summary(since=base - timedelta(days=7), limit=5)
    assert (summary.up, summary.down) == (2, 4)
    assert [a.id for a in summary.most_down_voted] == [worst, bad]
    assert store.feedback_summary().down == 7


def test_retention_purges_old_answers_with_all_their_parts(tmp_path, answers):
    now = datetime(2025, 9, 1, tzinfo=timezone.utc)
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path) as store:  # no retention set: nothing is purged while writing
        old = store.record_answer(answers["mongolia"], front_end="discord", created_at=now - timedelta(days=31),
                                  turns=[Turn(question="q", answer="a")])
        store.set_feedback(old, 1, -1)
        store.add_bot_message(old, 1, 77)
        store.retract(old, 5, "outdated")
        recent = store.record_answer(answers["harbour"], front_end="discord", created_at=now - timedelta(days=29))

    with AuditStore(path, retention_days=30) as store:
        assert store.purge_expired(now=now) == 1
        assert store.get_answer(old) is None and store.get_answer(recent) is not None
        conn = sqlite3.connect(store.path)
        for table in ("turns", "retrieved", "citations", "feedback", "bot_messages", "moderator_actions"):
            assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE answer_id = ?", (old,)).fetchone()[0] == 0
        conn.close()
    with AuditStore(path) as keep_forever:  # AUDIT_RETENTION_DAYS unset: keep
        assert keep_forever.purge_expired(now=now + timedelta(days=3650)) == 0
        assert keep_forever.get_answer(recent) is not None


def test_a_negative_retention_is_refused(tmp_path):
    with pytest.raises(AuditError, match="AUDIT_RETENTION_DAYS must be 0 or more"):
        AuditStore(tmp_path / "audit.sqlite3", retention_days=-1)


def test_answering_purges_expired_records_when_retention_is_set(tmp_path, answers):
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path) as store:
        stale = store.record_answer(answers["harbour"], front_end="discord",
                                    created_at=datetime.now(timezone.utc) - timedelta(days=45))
    with AuditStore(path, retention_days=30) as store:
        assert store.get_answer(stale) is not None  # opening and reading delete nothing
        fresh = store.record_answer(answers["mongolia"], front_end="discord")
        assert store.get_answer(stale) is None and store.get_answer(fresh) is not None


def test_forget_user_deletes_their_answers_and_votes_only(store, answers):
    theirs = store.record_answer(answers["mongolia"], front_end="discord", asker_id=314, asker_name="Forget Me")
    others = store.record_answer(answers["harbour"], front_end="discord", asker_id=271, asker_name="Keep Me")
    store.set_feedback(others, 314, -1)
    store.set_feedback(others, 271, +1)
    store.set_feedback(theirs, 271, +1)
    store.hide_article(HARBOUR.id, moderator_id=314, moderator_name="Forget Me", reason="test")
    store.retract(others, moderator_id=314, moderator_name="Forget Me", reason="wrong")

    report = store.forget_user(314)

    assert (report.answers, report.votes, report.moderator_actions_anonymised) == (1, 1, 2)
    assert store.get_answer(theirs) is None
    kept = store.get_answer(others)
    assert kept.feedback.model_dump() == {"up": 1, "down": 0}
    assert kept.retraction.moderator_id == "forgotten" and kept.retraction.moderator_name is None
    assert store.list_answers(AnswerFilter(user_id="314")).total == 0
    for file in (store.path, Path(f"{store.path}-wal")):  # not even in freed pages or the log
        assert not file.exists() or b"Forget Me" not in file.read_bytes(), file
    assert all(a.moderator_id == "forgotten" for a in store.moderator_actions())
    assert store.hidden_articles() == {HARBOUR.id}


def stored_texts(path: Path) -> list[str]:
    """Every text value in every table of the audit file."""
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    texts = [value for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')
             for value in row if isinstance(value, str)]
    conn.close()
    return texts


def test_forget_user_removes_their_question_from_others_follow_ups(store, index_settings, embedder):
    """A follow-up in a thread carries the thread's earlier questions (as turns and in its search query)."""
    engine = Engine(index_settings, embedder=embedder)
    thread = 4242  # the thread the bot starts from A's question message has that message's id
    theirs = "How many Russians crossed at the Altanbulag checkpoint?"
    follow_up = "And on which day?"
    asked = engine.ask(theirs)
    first = store.record_answer(asked, front_end="discord", asker_id=314, asker_name="Forget Me",
                                thread_id=thread, message_id=thread)
    history = store.thread_turns(thread)
    followed = engine.ask(follow_up, history)
    assert theirs in followed.search_query  # the engine searched A's words with B's
    second = store.record_answer(followed, front_end="discord", asker_id=271, asker_name="Keep Me",
                                 thread_id=thread, message_id=5151, turns=history)
    assert theirs in [t.question for t in store.get_answer(second).turns]

    report = store.forget_user(314)

    assert (report.answers, report.copies_removed) == (1, 2)
    assert store.get_answer(first) is None
    kept = store.get_answer(second)
    assert kept.question == follow_up and kept.answer == followed.answer
    assert [(t.question, t.answer) for t in kept.turns] == [(REMOVED, REMOVED)]
    assert kept.search_query == f"{REMOVED} {follow_up}"
    assert not [text for text in stored_texts(store.path) if theirs in text]
    for fmt in ("jsonl", "csv"):
        exported = io.StringIO()
        assert export(store, exported, fmt) == 1
        assert theirs not in exported.getvalue() and follow_up in exported.getvalue()
    for file in (store.path, Path(f"{store.path}-wal")):  # not even in freed pages or the log
        assert not file.exists() or theirs.encode() not in file.read_bytes(), file


def test_forget_user_scrubs_only_copies_in_threads_they_asked_in(store, answers):
    theirs = answers["mongolia"]
    store.record_answer(theirs, front_end="discord", asker_id=314, thread_id=10, message_id=10)
    other = answers["harbour"]
    store.record_answer(other, front_end="discord", asker_id=271, thread_id=10, message_id=11,
                        turns=store.thread_turns(10))
    # An LLM's rewrite of the follow-up from the thread: it paraphrases A, so it cannot stay.
    paraphrase = "Russians at the Mongolian border: what did the page carry?"
    rewritten = store.record_answer(answers["scripted"].model_copy(update={"search_query": paraphrase}),
                                    front_end="discord", asker_id=272, thread_id=10, message_id=12,
                                    turns=store.thread_turns(10))
    # The plain join of a kept question and the follow-up stays as it was.
    joined_query = f"{answers['scripted'].question} Where?"
    joined = store.record_answer(
        other.model_copy(update={"question": "Where?", "search_query": joined_query}),
        front_end="discord", asker_id=273, thread_id=10, message_id=13, turns=store.thread_turns(10)[1:])
    # The same words asked by someone else in another thread are theirs, not A's.
    store.record_answer(theirs, front_end="discord", asker_id=274, thread_id=20, message_id=20)
    elsewhere = store.record_answer(other, front_end="discord", asker_id=275, thread_id=20, message_id=21,
                                    turns=store.thread_turns(20))

    store.forget_user(314)

    assert store.get_answer(rewritten).search_query == REMOVED
    assert [t.question for t in store.get_answer(rewritten).turns] == [REMOVED, other.question]
    assert store.get_answer(joined).search_query == joined_query
    assert store.get_answer(elsewhere).turns[0].question == theirs.question


def test_hide_and_unhide_are_logged_and_seen_by_other_stores(tmp_path):
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path) as bot, AuditStore(path) as cli:
        provider = bot.hidden_articles  # what the engine is handed
        assert provider() == set()
        assert cli.hide_article(MONGOLIA.id, moderator_id="cli:ada", reason="misquotes", moderator_name="Ada")
        assert not cli.hide_article(MONGOLIA.id, moderator_id="cli:ada")
        assert provider() == {MONGOLIA.id}
        assert bot.hide_article(SCRIPTED.id, moderator_id=7)
        assert provider() == {MONGOLIA.id, SCRIPTED.id}
        details = {d.article_id: d for d in cli.hidden_article_details()}
        assert (details[MONGOLIA.id].moderator_name, details[MONGOLIA.id].reason) == ("Ada", "misquotes")
        assert cli.unhide_article(MONGOLIA.id, moderator_id="cli:ada")
        assert not cli.unhide_article(MONGOLIA.id, moderator_id="cli:ada")
        assert provider() == {SCRIPTED.id}
        log = [(a.action, a.article_id, a.moderator_id) for a in bot.moderator_actions(article_id=MONGOLIA.id)]
        assert log == [("unhide", MONGOLIA.id, "cli:ada"), ("hide", MONGOLIA.id, "cli:ada")]


def test_retract_and_unretract_are_logged(store, answers):
    answer_id = store.record_answer(answers["mongolia"], front_end="discord")
    with pytest.raises(ValueError, match="reason"):
        store.retract(answer_id, 1, "  ")
    record = store.retract(answer_id, moderator_id=1, reason="the figure is wrong", moderator_name="Mod")
    assert (record.retraction.moderator_name, record.retraction.reason) == ("Mod", "the figure is wrong")
    assert store.list_answers().items[0].retracted
    assert store.unretract(answer_id, moderator_id=2).retraction is None
    assert [a.action for a in store.moderator_actions(answer_id=answer_id)] == ["unretract", "retract"]
    with pytest.raises(UnknownAnswer):
        store.retract("nosuchanswer", 1, "x")


def test_thread_turns_are_the_threads_last_exchanges_oldest_first(store, answers):
    base = datetime(2025, 7, 1, tzinfo=timezone.utc)
    opener = store.record_answer(answers["mongolia"], front_end="discord", channel_id=10, created_at=base)
    store.add_bot_message(opener, channel_id=10, message_id=777)  # the thread is started from this message
    for k in range(3):
        store.record_answer(answers["harbour"].model_copy(update={"question": f"follow-up {k}"}),
                            front_end="discord", thread_id=777, created_at=base + timedelta(minutes=k + 1))
    store.record_answer(answers["scripted"], front_end="discord", thread_id=888, created_at=base)

    turns = store.thread_turns(777, limit=10)
    assert [t.question for t in turns] == [answers["mongolia"].question, "follow-up 0", "follow-up 1", "follow-up 2"]
    assert [t.question for t in store.thread_turns(777, limit=2)] == ["follow-up 1", "follow-up 2"]
    assert store.thread_turns(999) == []
    plan = sqlite3.connect(store.path).execute(
        "EXPLAIN QUERY PLAN SELECT * FROM answers WHERE thread_id = 777").fetchall()
    assert "answers_thread" in str(plan)
