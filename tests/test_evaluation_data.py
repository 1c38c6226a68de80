"""The evaluation data sets: the seeds questions, the MultiHop-RAG converter and the synthetic archive."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from newsdesk.articles import SourceFile, discover, parse_file
from newsdesk.evaluation import load_questions
from newsdesk.evaluation_data import MULTIHOP_ATTRIBUTION, build_multihop
from newsdesk.synthetic_archive import ATTRIBUTION, BEATS, generate, write_archive

from conftest import PROJECT_ROOT, SEED_ID, SEEDS

MULTIHOP = PROJECT_ROOT.parent / "shared" / "bench" / "multihop"
SEEDS_QUESTIONS = PROJECT_ROOT / "benchmarks" / "questions" / "seeds.jsonl"


def read_corpus(path: Path) -> list:
    articles = list(parse_file(SourceFile(path, path.parent)))
    assert not [a for a in articles if isinstance(a, Exception)]
    return articles


# -- seeds --------------------------------------------------------------------------------------

def test_seed_questions_cover_the_article_and_questions_it_cannot_answer():
    questions = load_questions(SEEDS_QUESTIONS)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 10 and len(questions) - len(answerable) >= 5
    files, _ = discover([SEEDS])
    (article,) = [a for f in files for a in parse_file(f)]
    assert article.id == SEED_ID
    for q in answerable:
        assert q.evidence == [SEED_ID]
        assert q.answers and q.passages
        for passage in q.passages:
            assert passage in article.text, q.id
        assert any(answer.lower() in passage.lower() for answer in q.answers for passage in q.passages), q.id
    assert {"number", "name", "place", "date"} <= {q.type for q in answerable}


# -- MultiHop-RAG --------------------------------------------------------------------------------

needs_multihop = pytest.mark.skipif(not MULTIHOP.is_dir(), reason="../shared/bench/multihop is not here")


@needs_multihop
def test_multihop_conversion_counts_and_evidence(tmp_path):
    built = build_multihop(MULTIHOP, tmp_path)
    assert (built.articles, built.answerable, built.unanswerable) == (326, 429, 71)
    articles = read_corpus(built.corpus)
    assert len(articles) == 326
    by_id = {a.id: a for a in articles}
    # No explicit id: each article's id is its url, so evidence urls name indexed articles directly.
    assert all(a.id == a.url for a in articles)
    assert len({a.source for a in articles}) == 37
    assert all(a.published is not None and a.title for a in articles)
    questions = load_questions(built.questions)
    assert Counter(q.type for q in questions) == {"inference": 161, "comparison": 154, "temporal": 114, "null": 71}
    for q in questions:
        if q.type == "null":
            assert not q.evidence and not q.answers
            continue
        assert q.evidence and q.answers and q.passages
        texts = " ".join(by_id[url].text for url in q.evidence)
        assert all(passage in texts for passage in q.passages), q.id
    first = next(q for q in questions if q.id == "mhs-000")
    assert len(first.evidence) == 3 and first.answers == ["no"]


@needs_multihop
def test_multihop_attribution_is_in_every_derived_file(tmp_path):
    built = build_multihop(MULTIHOP, tmp_path)
    assert "ODC-BY" in MULTIHOP_ATTRIBUTION and "MultiHop-RAG" in MULTIHOP_ATTRIBUTION
    for path in (built.corpus, built.questions):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert all(row["attribution"] == MULTIHOP_ATTRIBUTION for row in rows)
    assert MULTIHOP_ATTRIBUTION in (tmp_path / "NOTICE").read_text()
    assert load_questions(built.questions)[0].attribution == MULTIHOP_ATTRIBUTION


# -- the synthetic archive --------------------------------------------------------------------------

def test_synthetic_archive_is_deterministic(tmp_path):
    first = write_archive(generate(60, seed=3, questions=30, unplanted=10), tmp_path / "a")
    second = write_archive(generate(60, seed=3, questions=30, unplanted=10), tmp_path / "b")
    other = write_archive(generate(60, seed=4, questions=30, unplanted=10), tmp_path / "c")
    for mine, same, different in zip(first, second, other):
        assert mine.read_bytes() == same.read_bytes()
        assert mine.read_bytes() != different.read_bytes()


def test_synthetic_archive_counts_metadata_and_attribution(tmp_path):
    archive = generate(300, seed=11, questions=120, unplanted=40)
    corpus, questions_path = write_archive(archive, tmp_path)
    articles = read_corpus(corpus)
    assert len(articles) == 300
    assert len({a.source for a in articles}) >= 6
    assert all(a.published and a.author and a.title and a.url == a.id for a in articles)
    words = sorted(len(a.text.split()) for a in articles)
    assert 250 <= words[len(words) // 2] <= 800
    # Many articles per beat, so retrieval has to discriminate within a topic.
    assert min(Counter(row["category"] for row in archive.articles).values()) >= 15
    questions = load_questions(questions_path)
    types = Counter(q.type for q in questions)
    assert sum(q.answerable for q in questions) == 120
    assert types["unplanted-known-entity"] == 20 and types["unplanted-new-entity"] == 20
    assert all(q.attribution == ATTRIBUTION for q in questions)
    assert all(json.loads(line)["attribution"] == ATTRIBUTION for line in corpus.read_text().splitlines())
    assert "invented" in (tmp_path / "NOTICE").read_text()


def test_planted_facts_are_unique_and_answer_their_questions():
    archive = generate(400, seed=5, questions=150, unplanted=50)
    bodies = {row["url"]: row["body"] for row in archive.articles}
    for q in archive.questions:
        if not q.answerable:
            continue
        (url,) = q.evidence
        (passage,) = q.passages
        assert passage in bodies[url]
        assert [u for u, body in bodies.items() if passage in body] == [url], q.id
        assert any(answer in passage for answer in q.answers)
        # The question is not the fact sentence reworded only at its ends.
        assert q.question.rstrip("?") not in passage


def test_unplanted_questions_ask_for_facts_no_article_holds():
    archive = generate(400, seed=5, questions=150, unplanted=60)
    bodies = [row["title"] + "\n" + row["body"] for row in archive.articles]
    text = "\n".join(bodies)
    types = Counter(q.type for q in archive.questions if not q.answerable)
    assert types == {"unplanted-new-entity": 30, "unplanted-known-entity": 30}
    kinds = {kind.name: kind for beat in BEATS for kind in beat.facts}
    for q in archive.questions:
        if q.answerable:
            continue
        kind, key = archive.unplanted[q.id]
        for value in key.values():
            assert value in q.question
        if q.type == "unplanted-known-entity":
            assert all(value in text for value in key.values()), q.question
        else:
            assert any(value not in text for value in key.values()), q.question
        # No article states this kind of fact (or one of its group) about this key, whatever the figure.
        for other in kinds.values():
            if other is kind or (kind.group and other.group == kind.group):
                pattern = re.escape(other.sentence)
                for name in re.findall(r"\{(\w+)\}", other.sentence):
                    value = key.get(name)
                    pattern = pattern.replace(re.escape("{" + name + "}"), re.escape(value) if value else r"[^\n]{1,80}?")
                mentioning = [body for body in bodies if all(value in body for value in key.values())]
                assert not any(re.search(pattern, body) for body in mentioning), (q.question, other.name)


def test_planted_facts_sit_anywhere_in_the_article_not_only_in_its_opening():
    # A fact always near the top would favour systems that embed only an article's first 256 tokens.
    archive = generate(400, seed=5, questions=150, unplanted=0)
    bodies = {row["url"]: row["body"] for row in archive.articles}
    positions = [bodies[f.article_url].index(f.sentence) / len(bodies[f.article_url]) for f in archive.facts]
    assert sum(p > 0.5 for p in positions) / len(positions) > 0.3
    assert sum(p < 0.5 for p in positions) / len(positions) > 0.3
