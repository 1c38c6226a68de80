"""`newsdesk audit ...` run as a moderator runs it, on real answers from the real engine."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from audit_support import HARBOUR, MONGOLIA, ingest_corpus, make_settings

from newsdesk.audit import AnswerRecord, AuditStore
from newsdesk.cli import main
from newsdesk.engine import Engine
from newsdesk.results import Turn

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = {
    "altanbulag": "How many Russians crossed at Altanbulag?",
    "ferry": "When did the harbour ferry resume?",
    "cost": "What did the council say the landing stage cost?",
    "worldcup": "Who won the 1930 World Cup?",
}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, embedder) -> Path:
    data_dir = tmp_path_factory.mktemp("corpus") / "data"
    ingest_corpus(make_settings(data_dir), embedder=embedder)
    return data_dir


@pytest.fixture(scope="module")
def results(corpus_dir, embedder):
    engine = Engine(make_settings(corpus_dir), embedder=embedder)
    return {name: engine.ask(question) for name, question in QUESTIONS.items()}


@pytest.fixture
def data_dir(tmp_path, corpus_dir, monkeypatch) -> Path:
    """A fresh copy of the index with an audit trail of four answers (ids in .answer_ids)."""
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    for name in ("AUDIT_RETENTION_DAYS", "NEWSDESK_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "data"
    shutil.copytree(corpus_dir, target)
    return target


@pytest.fixture
def trail(data_dir, results) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        ids = {
            "altanbulag": store.record_answer(results["altanbulag"], front_end="discord", asker_id=1001,
                                              asker_name="Ada", guild_id=5, channel_id=6, message_id=7,
                                              created_at=now - timedelta(days=40)),
            "ferry": store.record_answer(results["ferry"], front_end="discord", asker_id=1002, asker_name="Bo",
                                         created_at=now - timedelta(days=3)),
            "cost": store.record_answer(results["cost"], front_end="chat", asker_id=1001, asker_name="Ada",
                                        turns=[Turn(question=QUESTIONS["ferry"], answer=results["ferry"].answer)],
                                        created_at=now - timedelta(hours=2)),
            "worldcup": store.record_answer(results["worldcup"], front_end="cli", created_at=now),
        }
        store.set_feedback(ids["ferry"], 2001, -1)
        store.set_feedback(ids["ferry"], 2002, -1)
        store.set_feedback(ids["cost"], 2001, +1)
        store.set_feedback(ids["altanbulag"], 2003, -1)
    return ids


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_answers_newest_first_with_filters(capsys, data_dir, trail):
    code, out, _ = run_cli(capsys, "audit", "list", "--data-dir", str(data_dir))
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:4]] == [trail[k] for k in ("worldcup", "cost", "ferry", "altanbulag")]
    assert "Ada (1001)" in lines[1] and QUESTIONS["cost"] in lines[1] and "+1/-0" in lines[1]
    assert lines[-1] == "-- 1-4 of 4"

    _, out, _ = run_cli(capsys, "audit", "list", "--flagged", "--data-dir", str(data_dir))
    assert [line.split()[0] for line in out.splitlines()[:-1]] == [trail["ferry"], trail["altanbulag"]]
    _, out, _ = run_cli(capsys, "audit", "list", "--user", "1001", "--since", "7d", "--data-dir", str(data_dir))
    assert [line.split()[0] for line in out.splitlines()[:-1]] == [trail["cost"]]
    _, out, _ = run_cli(capsys, "audit", "list", "--article", HARBOUR.id, "--data-dir", str(data_dir))
    assert [line.split()[0] for line in out.splitlines()[:-1]] == [trail["cost"], trail["ferry"]]

    code, out, _ = run_cli(capsys, "audit", "list", "--json", "--limit", "3", "--page", "2",
                           "--data-dir", str(data_dir))
    page = json.loads(out)
    assert (page["total"], page["offset"], [i["id"] for i in page["items"]]) == (4, 3, [trail["altanbulag"]])


def test_bad_dates_and_pages_are_usage_errors(capsys, data_dir, trail):
    code, _, err = run_cli(capsys, "audit", "list", "--since", "last tuesday", "--data-dir", str(data_dir))
    assert code == 2 and "--since" in err and "YYYY-MM-DD" in err
    code, _, err = run_cli(capsys, "audit", "list", "--page", "0", "--data-dir", str(data_dir))
    assert code == 2 and "--page" in err


def test_show_prints_the_whole_record_with_its_passages(capsys, data_dir, trail, results):
    code, out, _ = run_cli(capsys, "audit", "show", trail["cost"], "--data-dir", str(data_dir))
    assert code == 0
    cited = results["cost"].citations[0]
    assert f"Question: {QUESTIONS['cost']}" in out and results["cost"].answer in out
    assert f"Q: {QUESTIONS['ferry']}" in out  # the conversation it used
    assert f"[1] {HARBOUR.title} (Coastal Herald, 2023-03-14)" in out
    assert f"chars {cited.start}-{cited.end}" in out and cited.chunk_id in out
    assert "1.2 million euros" in out and "Retrieved:" in out

    code, out, _ = run_cli(capsys, "audit", "show", trail["altanbulag"], "--json", "--data-dir", str(data_dir))
    record = json.loads(out)
    assert (record["guild_id"], record["channel_id"], record["message_id"]) == (5, 6, 7)
    assert record["citations"][0]["start"] == results["altanbulag"].citations[0].start
    assert record["citations"][0]["author"] == MONGOLIA.author
    assert record["feedback"] == {"up": 0, "down": 1} and record["moderator_actions"] == []

    code, _, err = run_cli(capsys, "audit", "show", "nosuchanswer", "--data-dir", str(data_dir))
    assert code == 2 and "no answer with id 'nosuchanswer'" in err


def test_export_jsonl_and_csv_hold_every_record(capsys, data_dir, trail, tmp_path):
    code, out, _ = run_cli(capsys, "audit", "export", "--format", "jsonl", str(tmp_path / "all.jsonl"),
                           "--data-dir", str(data_dir))
    assert code == 0 and out.strip() == f"exported 4 answers to {tmp_path / 'all.jsonl'}"
    exported = [AnswerRecord.model_validate_json(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert exported == [store.get_answer(trail[k]) for k in ("altanbulag", "ferry", "cost", "worldcup")]

    code, _, _ = run_cli(capsys, "audit", "export", "--format", "csv", str(tmp_path / "flagged.csv"), "--flagged",
                         "--data-dir", str(data_dir))
    with open(tmp_path / "flagged.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [trail["altanbulag"], trail["ferry"]]
    assert rows[0]["cited_articles"] == MONGOLIA.id and rows[1]["down"] == "2"
    passages = json.loads(rows[0]["citations"])
    assert passages[0]["text"] in MONGOLIA.text and passages[0]["end"] > passages[0]["start"]

    code, _, err = run_cli(capsys, "audit", "export", "--format", "csv", str(tmp_path / "missing" / "x.csv"),
                           "--data-dir", str(data_dir))
    assert code == 2 and "no such folder" in err
    assert not (tmp_path / "missing").exists()


def test_hide_keeps_an_article_out_of_later_answers_until_unhidden(capsys, data_dir, trail, embedder):
    settings = make_settings(data_dir)
    store = AuditStore.from_settings(settings)
    engine = Engine(settings, embedder=embedder, hidden_articles=store.hidden_articles)
    assert engine.ask(QUESTIONS["altanbulag"]).citations[0].article_id == MONGOLIA.id

    code, out, _ = run_cli(capsys, "audit", "hide", MONGOLIA.id, "--reason", "misquotes officials",
                           "--by", "ada", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith(f"hidden: {MONGOLIA.id}")
    later = engine.ask(QUESTIONS["altanbulag"])
    assert MONGOLIA.id not in {c.article_id for c in later.citations}
    assert MONGOLIA.id not in {r.article_id for r in later.retrieved}
    _, out, _ = run_cli(capsys, "audit", "hidden", "--data-dir", str(data_dir))
    assert f"{MONGOLIA.id}  hidden" in out and "by ada: misquotes officials" in out

    code, out, _ = run_cli(capsys, "audit", "unhide", MONGOLIA.id, "--data-dir", str(data_dir))
    assert code == 0 and out.strip() == f"unhidden: {MONGOLIA.id}"
    assert engine.ask(QUESTIONS["altanbulag"]).citations[0].article_id == MONGOLIA.id
    log = [(a.action, a.moderator_id) for a in store.moderator_actions(article_id=MONGOLIA.id)]
    assert log[0][0] == "unhide" and log[0][1].startswith("cli") and log[1] == ("hide", "ada")
    store.close()


def test_hiding_an_article_the_index_does_not_hold_needs_force(capsys, data_dir, trail):
    code, _, err = run_cli(capsys, "audit", "hide", "no-such-article", "--data-dir", str(data_dir))
    assert code == 2 and "holds no article 'no-such-article'" in err
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert store.hidden_articles() == set()
    code, _, _ = run_cli(capsys, "audit", "hide", "no-such-article", "--force", "--data-dir", str(data_dir))
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert code == 0 and store.hidden_articles() == {"no-such-article"}


def test_feedback_report(capsys, data_dir, trail):
    code, out, _ = run_cli(capsys, "audit", "feedback", "--since", "30d", "--data-dir", str(data_dir))
    assert code == 0
    assert "+1 / -2" in out
    assert out.splitlines()[-1].startswith(trail["ferry"])


def cli_process(data_dir: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"AUDIT_RETENTION_DAYS", "NEWSDESK_DATA_DIR"}}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "newsdesk", *argv, "--data-dir", str(data_dir)],
                          cwd=data_dir.parent, env=environment, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def test_forget_user_asks_for_confirmation_then_deletes(capsys, monkeypatch, data_dir, trail):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: no one to ask
    code, _, err = run_cli(capsys, "audit", "forget-user", "1001", "--data-dir", str(data_dir))
    assert code == 2 and "--yes" in err
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert store.list_answers().total == 4

    code, out, _ = run_cli(capsys, "audit", "forget-user", "2001", "--yes", "--data-dir", str(data_dir))
    assert code == 0 and "0 answers and 2 votes deleted" in out
    code, out, _ = run_cli(capsys, "audit", "forget-user", "1001", "--yes", "--data-dir", str(data_dir))
    assert "2 answers and 0 votes deleted" in out
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert {i.id for i in store.list_answers().items} == {trail["ferry"], trail["worldcup"]}
        assert store.feedback_counts(trail["ferry"]).down == 1


def test_purge_uses_the_retention_setting(capsys, monkeypatch, data_dir, trail):
    code, _, err = run_cli(capsys, "audit", "purge", "--data-dir", str(data_dir))
    assert code == 2 and "AUDIT_RETENTION_DAYS is not set" in err

    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "30")
    code, out, _ = run_cli(capsys, "audit", "purge", "--data-dir", str(data_dir))
    assert code == 0 and out.strip() == "purged 1 answers older than 30 days"
    code, out, _ = run_cli(capsys, "audit", "purge", "--days", "1", "--data-dir", str(data_dir))
    assert out.strip() == "purged 1 answers older than 1 days"
    _, out, _ = run_cli(capsys, "audit", "list", "--json", "--data-dir", str(data_dir))
    assert {i["id"] for i in json.loads(out)["items"]} == {trail["cost"], trail["worldcup"]}


def test_the_installed_command_runs_as_a_moderator_runs_it(data_dir, trail):
    """One real process, settings from the environment (as cron would run the purge)."""
    environment = {k: v for k, v in os.environ.items() if k not in {"AUDIT_RETENTION_DAYS", "NEWSDESK_DATA_DIR"}}
    environment.update(PYTHONPATH=str(REPO), NEWSDESK_DATA_DIR=str(data_dir), AUDIT_RETENTION_DAYS="30")
    run = subprocess.run([sys.executable, "-m", "newsdesk", "audit", "purge"], cwd=data_dir.parent,
                         env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert (run.returncode, run.stdout.strip()) == (0, "purged 1 answers older than 30 days"), run.stderr
    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        assert store.get_answer(trail["altanbulag"]) is None and store.get_answer(trail["ferry"]) is not None


def test_ask_and_chat_record_their_answers_and_skip_hidden_articles(capsys, monkeypatch, data_dir):
    code, out, _ = run_cli(capsys, "ask", QUESTIONS["altanbulag"], "--json", "--data-dir", str(data_dir))
    assert code == 0 and json.loads(out)["citations"][0]["article_id"] == MONGOLIA.id
    run_cli(capsys, "audit", "hide", MONGOLIA.id, "--data-dir", str(data_dir))
    monkeypatch.setattr(sys, "stdin", io.StringIO(QUESTIONS["altanbulag"] + "\n" + QUESTIONS["ferry"] + "\n"))
    code, out, _ = run_cli(capsys, "chat", "--data-dir", str(data_dir))
    assert code == 0 and "1.2 million" not in out

    with AuditStore(data_dir / "newsdesk.sqlite3") as store:
        page = store.list_answers()
        assert [(i.front_end, i.question) for i in page.items] == [
            ("chat", QUESTIONS["ferry"]), ("chat", QUESTIONS["altanbulag"]), ("cli", QUESTIONS["altanbulag"])]
        chat_second, chat_first, asked = (store.get_answer(i.id) for i in page.items)
    assert asked.citations[0].article_id == MONGOLIA.id and asked.asker_id.startswith("cli:")
    assert MONGOLIA.id not in {c.article_id for c in chat_first.citations}  # hidden before the chat began
    assert chat_second.turns == [Turn(question=QUESTIONS["altanbulag"], answer=chat_first.answer)]
