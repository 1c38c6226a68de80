"""The answer engine over real ingested articles: seeds, a two-outlet corpus, follow-ups, filters."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from newsdesk.config import load_settings
from newsdesk.engine import Engine
from newsdesk.ingestion import Ingestor
from newsdesk.query import QueryFilters
from newsdesk.results import REFUSAL, Citation, QuestionError, Turn
from newsdesk.retrieval import Candidate

from conftest import SAME_TOPIC, SEED_ID, SEEDS

BRIDGE_ARTICLES = [
    {"id": "afp-bridge-sept", "title": "Harbour bridge opens to traffic in Valdoria",
     "source": "AFP", "published_at": "2023-09-12", "author": "Ana Ruiz",
     "body": "The new harbour bridge in Valdoria opened to traffic on Tuesday after six years of work. "
             "Officials said 14,000 vehicles crossed the bridge on its first day. "
             "The bridge cost 820 million euros, according to the transport ministry."},
    {"id": "reuters-bridge-oct", "title": "Valdoria bridge traffic falls short of forecasts",
     "source": "Reuters", "published_at": "2023-10-20", "author": "Tom Berg",
     "body": "Traffic on the Valdoria harbour bridge has fallen short of forecasts, Reuters reported. "
             "About 9,500 vehicles crossed the bridge each day in its first month. "
             "The operator blamed high tolls for the shortfall."},
    {"id": "reuters-ferry-sept", "title": "Valdoria ferry operator cuts routes",
     "source": "Reuters", "published_at": "2023-09-28", "author": "Tom Berg",
     "body": "The ferry operator in Valdoria cut three routes after the harbour bridge opened. "
             "The company said 120 jobs would go by the end of the year."},
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(SEEDS, root / "seeds")
    (root / "wire").mkdir()
    (root / "wire" / "bridge.json").write_text(json.dumps(BRIDGE_ARTICLES))
    return root


@pytest.fixture(scope="module")
def engine(corpus, tmp_path_factory, embedder) -> Engine:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("data"), env_file=None)
    summary = Ingestor(settings, embedder=embedder).ingest_paths([corpus / "seeds", corpus / "wire"])
    assert not summary.failures
    return Engine(settings, embedder=embedder, today=lambda: dt.date(2023, 11, 1))


def inside(result):
    """The candidates inside the question's outlet and dates."""
    return [r for r in result.retrieved if not r.outside_filters]


def markers(answer: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", answer)]


def test_altanbulag_answered_with_its_passage(engine):
    result = engine.ask("how many crossed at Altanbulag?")
    assert not result.refused
    assert "more than 3,000 Russians had entered the country via the crossing" in result.answer
    assert markers(result.answer) == [1]
    [citation] = result.citations
    assert citation.article_id == SEED_ID
    assert "Altanbulag" in citation.text and "3,000" in citation.text
    assert citation.source == "AFP"


def test_off_topic_question_is_refused_without_sources(engine):
    result = engine.ask("who won the 2018 World Cup?")
    assert result.refused
    assert result.answer == REFUSAL
    assert result.citations == []


def test_follow_up_uses_the_previous_question(engine):
    first = engine.ask("how many crossed at Altanbulag?")
    follow_up = engine.ask("and how far is that from the capital?",
                           [Turn(question=first.question, answer=first.answer)])
    assert not follow_up.refused
    assert "350 kilometers" in follow_up.answer
    assert all(c.article_id == SEED_ID for c in follow_up.citations)


def test_every_marker_names_a_citation_and_every_citation_is_marked(engine):
    for question in ["How much did the Valdoria bridge cost?", "Who urged Putin to end the conflict?",
                     "How long is the border between Mongolia and Russia?"]:
        result = engine.ask(question)
        assert not result.refused, question
        numbers = markers(result.answer)
        assert sorted(set(numbers)) == [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))


def test_outlet_named_in_the_question_restricts_the_passages(engine):
    result = engine.ask("According to Reuters, how many vehicles crossed the Valdoria bridge?")
    assert not result.refused
    assert "9,500" in result.answer
    assert {c.source for c in result.citations} == {"Reuters"}
    assert {r.article_id for r in inside(result)} <= {"reuters-bridge-oct", "reuters-ferry-sept"}


def test_month_named_in_the_question_restricts_the_passages(engine):
    result = engine.ask("How many vehicles crossed the Valdoria bridge in September 2023?")
    assert not result.refused
    assert "14,000" in result.answer
    assert {r.article_id for r in inside(result)} <= {"afp-bridge-sept", "reuters-ferry-sept"}


def test_relative_dates_count_from_today(engine):
    # today is 2023-11-01 in this fixture, so "last month" is October 2023.
    result = engine.ask("What happened with the Valdoria bridge last month?")
    assert {r.article_id for r in inside(result)} == {"reuters-bridge-oct"}


def test_a_relative_date_when_nothing_was_published_then_belongs_to_the_fact(engine, embedder):
    # Nothing in the archive is from December 2029, so "last month" is part of what is asked.
    later = Engine(engine.settings, embedder=embedder, today=lambda: dt.date(2030, 1, 15))
    result = later.ask("How many jobs did the Valdoria ferry operator say would go last month?")
    assert not result.refused
    assert "120 jobs" in result.answer
    assert "nothing was published last month" in result.note
    by_outlet = later.ask("According to Reuters, how many jobs did the Valdoria ferry operator say "
                          "would go last month?")
    assert "nothing was published by Reuters last month" in by_outlet.note
    assert not any(r.outside_filters for r in result.retrieved)


def test_a_relative_date_whose_only_article_is_hidden_belongs_to_the_fact(engine, embedder):
    """October's one article is hidden by a moderator, so for the asker nothing was published last
    month: the question is answered as if that article had never been ingested."""
    hiding = Engine(engine.settings, embedder=embedder, hidden_articles=lambda: {"reuters-bridge-oct"},
                    today=lambda: dt.date(2023, 11, 1))
    result = hiding.ask("How many jobs did the Valdoria ferry operator say would go last month?")
    assert not result.refused
    assert "120 jobs" in result.answer
    assert "nothing was published last month" in result.note
    assert "reuters-bridge-oct" not in {r.article_id for r in result.retrieved}


def test_other_outlets_coverage_is_listed_after_but_never_cited(engine):
    result = engine.ask("According to Reuters, how many vehicles crossed the Valdoria bridge?")
    outside = [r for r in result.retrieved if r.outside_filters]
    assert "afp-bridge-sept" in {r.article_id for r in outside}
    assert all(r.article_id != "afp-bridge-sept" for r in inside(result))
    assert "afp-bridge-sept" not in {c.article_id for c in result.citations}
    assert result.retrieved[0].article_id == "reuters-bridge-oct" and not result.retrieved[0].outside_filters


def test_questions_without_outlet_or_date_list_nothing_as_outside(engine):
    result = engine.ask("How many vehicles crossed the Valdoria bridge?")
    assert result.retrieved and not any(r.outside_filters for r in result.retrieved)


@pytest.mark.parametrize("question", ["How much did the Valdoria bridge cost?",
                                      "How many jobs will go at the Valdoria ferry operator?",
                                      "how many crossed at Altanbulag?"])
def test_the_cited_passages_lead_the_ranking_in_citation_order(engine, question):
    result = engine.ask(question)
    assert not result.refused
    cited = [c.chunk_id for c in sorted(result.citations, key=lambda c: c.n)]
    assert [r.chunk_id for r in result.retrieved[:len(cited)]] == cited
    assert len({r.chunk_id for r in result.retrieved}) == len(result.retrieved)


def test_an_outlet_with_nothing_on_the_subject_gives_a_refusal(engine):
    result = engine.ask("According to Reuters, how many Russians crossed at Altanbulag?")
    assert result.refused
    assert result.citations == []


def test_no_more_than_the_configured_passages_from_one_article(engine):
    result = engine.ask("Russians fleeing mobilisation into Mongolia")
    engine_passages = engine._passages(engine.retriever.search(
        "Russians fleeing mobilisation into Mongolia", QueryFilters()))
    per_article = {}
    for passage in engine_passages:
        per_article[passage.article_id] = per_article.get(passage.article_id, 0) + 1
    assert max(per_article.values()) <= engine.settings.max_chunks_per_article
    assert not result.refused


def test_hidden_articles_are_never_retrieved(engine, embedder):
    hidden_engine = Engine(engine.settings, embedder=embedder, hidden_articles=lambda: {SEED_ID})
    result = hidden_engine.ask("how many crossed at Altanbulag?")
    assert SEED_ID not in {r.article_id for r in result.retrieved}
    assert result.refused


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_empty_and_over_long_questions_are_rejected_politely(engine, question):
    with pytest.raises(QuestionError) as caught:
        engine.ask(question)
    assert "question" in str(caught.value).lower()


def test_keyword_side_follows_new_ingestion(engine, corpus, embedder, tmp_path):
    before = engine.ask("What did the mayor of Quillport announce about the tram?")
    assert before.refused
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "tram.md").write_text("---\ntitle: Quillport tram returns\nsource: AFP\npublished: 2023-10-02\n---\n"
                                   "The mayor of Quillport announced that the tram line will reopen in May "
                                   "with 24 new carriages.\n")
    Ingestor(engine.settings, embedder=embedder).ingest_paths([extra])
    after = engine.ask("What did the mayor of Quillport announce about the tram?")
    assert not after.refused
    assert "24 new carriages" in after.answer
    assert after.citations[0].article_id == "extra/tram.md"
    assert after.citations[0].published == "2023-10-02"


@pytest.mark.parametrize("overrides, message", [
    ({"answerer": "gpt"}, "use extractive or llm"),
    ({"answerer": "llm"}, "needs LLM_BASE_URL and LLM_MODEL"),
])
def test_answerer_settings_that_cannot_work_are_named(engine, embedder, overrides, message):
    from newsdesk.config import SettingsError

    with pytest.raises(SettingsError, match=message):
        Engine(engine.settings.model_copy(update=overrides), embedder=embedder)


def test_cited_first_moves_the_cited_passages_to_the_head_in_citation_order():
    ranked = [Candidate(f"a{i}:v:0", f"a{i}", 1.0 - i / 10) for i in range(5)]
    citations = [Citation(n=1, article_id="a3", chunk_id="a3:v:0", text="three"),
                 Citation(n=2, article_id="a1", chunk_id="a1:v:0", text="one")]
    reordered = Engine._cited_first(ranked, citations)
    assert [c.chunk_id for c in reordered] == ["a3:v:0", "a1:v:0", "a0:v:0", "a2:v:0", "a4:v:0"]


TOLL_ARTICLES = [
    {"id": "afp-toll-march", "title": "Valdoria bridge toll", "source": "AFP", "published_at": "2023-03-10",
     "body": "The toll on the Valdoria harbour bridge is 4 euros per car, the operator said."},
    {"id": "afp-toll-sept", "title": "Valdoria bridge", "source": "AFP", "published_at": "2023-09-20",
     "body": "The toll on the Valdoria harbour bridge is 5 euros per car, the operator said."},
    {"id": "afp-ferry", "title": "Valdoria ferry cuts routes", "source": "AFP", "published_at": "2022-05-02",
     "body": "The ferry operator in Valdoria cut three routes, the company said."},
    {"id": "reuters-toll-2025", "title": "Valdoria bridge toll cut", "source": "Reuters", "published_at": "2025-02-01",
     "body": "The toll on the Valdoria harbour bridge will be cut to 3 euros per car, the operator said."},
]


def test_latest_from_one_outlet_is_its_newest_even_when_another_outlet_is_newer(tmp_path, embedder):
    """Reuters' 2025 story is listed (outside the outlet asked for) but must not set the date that
    "latest" counts back from, nor be lifted above AFP's own reports."""
    (tmp_path / "wire").mkdir()
    (tmp_path / "wire" / "tolls.json").write_text(json.dumps(TOLL_ARTICLES))
    settings = load_settings(data_dir=tmp_path / "data", env_file=None)
    assert not Ingestor(settings, embedder=embedder).ingest_paths([tmp_path / "wire"]).failures
    result = Engine(settings, embedder=embedder, today=lambda: dt.date(2025, 3, 1)).ask(
        "What is the latest on the Valdoria bridge toll according to AFP?")
    assert not result.refused
    assert "5 euros" in result.answer and result.citations[0].article_id == "afp-toll-sept"
    order = [r.article_id for r in result.retrieved]
    assert order.index("afp-toll-sept") < order.index("afp-toll-march") < order.index("reuters-toll-2025")
    assert [r.outside_filters for r in result.retrieved if r.article_id == "reuters-toll-2025"] == [True]


def test_the_keyword_searchs_best_reaches_the_answer_though_fusion_ranks_it_low(same_topic_archive):
    """Dense search ranks forty rival universities' stories on the same discovery above the one
    that names the University of Kesstead; the keyword search puts it first, and the answer,
    handed it, quotes it and cites it first."""
    question = f"Who led the University of Kesstead team that {SAME_TOPIC}?"
    fused = [c.article_id for c in same_topic_archive.retriever.search(question, QueryFilters())]
    assert fused.index("kesstead-enzyme") >= same_topic_archive.settings.top_k
    result = same_topic_archive.ask(question)
    assert not result.refused and "Anna Nordwood" in result.answer
    assert result.citations[0].article_id == "kesstead-enzyme"
    assert result.retrieved[0].article_id == "kesstead-enzyme"
