"""The evaluation metrics, on hand-made answers whose right scores are known."""

from __future__ import annotations

import json

import pytest

from newsdesk.evaluation import (
    EvalQuestion,
    QuestionsFileError,
    aggregate,
    answer_matches,
    evaluate,
    format_markdown,
    format_table,
    load_questions,
    passage_matches,
    percentile,
    score,
)
from newsdesk.results import AnswerResult, Citation, QuestionError, Retrieved


def result(retrieved: list[str], *, cited: list[tuple[str, str]] = (), answer: str = "", refused: bool = False,
           latency: float = 10.0, urls: dict[str, str] | None = None) -> AnswerResult:
    """Chunks named `article#n`; citations as (article, text)."""
    urls = urls or {}
    return AnswerResult(
        question="q", answer=answer, refused=refused, answerer="extractive", latency_ms=latency,
        retrieved=[Retrieved(article_id=a, chunk_id=f"{a}#{i}", score=1.0 - i / 100)
                   for i, a in enumerate(retrieved)],
        citations=[Citation(n=i + 1, article_id=a, chunk_id=f"{a}#c{i}", text=text, url=urls.get(a))
                   for i, (a, text) in enumerate(cited)],
    )


def question(**fields) -> EvalQuestion:
    fields.setdefault("id", "q1")
    fields.setdefault("question", f"how many? ({fields['id']})")
    return EvalQuestion(**fields)


# -- retrieval ---------------------------------------------------------------------------

def test_rank_is_counted_over_articles_not_chunks():
    # Three chunks of article a come first: b is the second *article*, not the fourth item.
    outcome = score(question(evidence=["b"]), result(["a", "a", "a", "b", "c"]))
    assert outcome.articles == ["a", "b", "c"]
    assert outcome.first_hit_rank == 2
    metrics = aggregate([outcome])
    assert metrics.hits_at_1 == 0.0
    assert metrics.hits_at_4 == 1.0
    assert metrics.mrr_at_k == 0.5


def test_hits_and_mrr_at_depths():
    ranks = {"first": 1, "third": 3, "fifth": 5, "eleventh": 11}
    outcomes = []
    for name, rank in ranks.items():
        ids = [f"{name}-other{i}" for i in range(1, 12)]
        ids[rank - 1] = f"{name}-gold"
        outcomes.append(score(question(id=name, evidence=[f"{name}-gold"]), result(ids)))
    assert [o.first_hit_rank for o in outcomes] == [1, 3, 5, None]
    metrics = aggregate(outcomes)
    assert metrics.hits_at_1 == 0.25
    assert metrics.hits_at_4 == 0.5
    assert metrics.hits_at_k == 0.75
    assert metrics.mrr_at_k == pytest.approx((1 + 1 / 3 + 1 / 5 + 0) / 4)


def test_k_limits_the_depth():
    outcome = score(question(evidence=["gold"]), result(["x", "y", "gold"]), k=2)
    assert outcome.first_hit_rank is None
    assert aggregate([outcome], k=2).hits_at_k == 0.0


def test_all_at_k_needs_every_evidence_article():
    both = score(question(id="both", evidence=["a", "b"]), result(["a", "x", "b"]))
    one = score(question(id="one", evidence=["a", "b"]), result(["a", "x", "y"]))
    assert both.all_found and not one.all_found
    assert one.first_hit_rank == 1
    metrics = aggregate([both, one])
    assert metrics.all_at_k == 0.5
    assert metrics.hits_at_1 == 1.0


def test_evidence_named_by_url_matches_an_article_with_another_id():
    url = "https://example.com/story"
    q = question(evidence=[url])
    # The article's id is not its url; the url is known from the index (urls=...) ...
    from newsdesk.evaluation import EvidenceMatcher
    assert score(q, result(["other", "mh-1"]), matcher=EvidenceMatcher({"mh-1": url})).first_hit_rank == 2
    # ... or from a citation of it, which also makes the citation count as precise.
    outcome = score(q, result(["mh-1"], cited=[("mh-1", "text")], urls={"mh-1": url}))
    assert outcome.first_hit_rank == 1
    assert outcome.citation_precision == 1.0
    # Unknown url: no match.
    assert score(q, result(["mh-1"])).first_hit_rank is None


def test_evidence_named_by_id_matches_directly():
    outcome = score(question(evidence=["seeds/a.txt"]), result(["seeds/b.txt", "seeds/a.txt"]))
    assert outcome.first_hit_rank == 2


# -- citations and passages -----------------------------------------------------------------

def test_citation_precision_is_the_share_of_citations_from_evidence_articles():
    outcome = score(question(evidence=["a"]),
                    result(["a", "b"], cited=[("a", "x"), ("b", "y"), ("a", "z"), ("c", "w")]))
    assert outcome.citation_precision == 0.5


def test_citation_precision_ignores_questions_without_citations():
    cited = score(question(id="1", evidence=["a"]), result(["a"], cited=[("a", "x")]))
    uncited = score(question(id="2", evidence=["a"]), result(["a"], refused=True))
    metrics = aggregate([cited, uncited])
    assert metrics.citation_precision == 1.0
    assert metrics.cited_questions == 1


def test_passage_hit_ignores_case_and_whitespace():
    passage = "More than 3,000 Russians had entered\nthe country"
    chunk = "The head said that MORE THAN 3,000   russians had entered the country via the crossing."
    assert passage_matches([chunk], [passage])
    assert not passage_matches([chunk], ["more than 4,000 Russians"])
    outcome = score(question(evidence=["a"], passages=[passage]), result(["a"], cited=[("a", chunk)]))
    assert outcome.passage_hit is True


def test_passage_hit_needs_the_whole_passage_in_one_cited_chunk():
    passage = "first half. second half."
    outcome = score(question(evidence=["a"], passages=[passage]),
                    result(["a"], cited=[("a", "ends with first half."), ("a", "second half. goes on")]))
    assert outcome.passage_hit is False


def test_passage_hit_counts_a_refusal_as_a_miss_and_skips_questions_without_passages():
    refused = score(question(id="1", evidence=["a"], passages=["p"]), result(["a"], refused=True))
    no_passages = score(question(id="2", evidence=["a"]), result(["a"], cited=[("a", "p")]))
    assert refused.passage_hit is False
    assert no_passages.passage_hit is None
    metrics = aggregate([refused, no_passages])
    assert metrics.passage_hit == 0.0
    assert metrics.passage_questions == 1


# -- answers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, accepted, expected", [
    ("More than 3,000 Russians had entered [1].", ["more than 3,000"], True),
    ("more than 3000 russians", ["More than 3,000"], True),
    ("It was Tsakhia Elbegdorj.", ["tsakhia elbegdorj"], True),
    ("Mongolia's border is 3,500-kilometer long [2]", ["3,500 kilometer"], True),
    ("The answer is no.", ["No"], True),
    ("There was nothing [1].", ["no"], False),       # "no" inside "nothing" is not a whole word
    ("Cited passage [1] says so.", ["1"], False),    # a citation marker is not an answer
    ("about 30,000 people", ["3,000"], False),
    ("", ["x"], False),
])
def test_answer_matching(answer, accepted, expected):
    assert answer_matches(answer, accepted) is expected


def test_answer_accuracy_counts_refusals_as_wrong_and_skips_questions_without_answers():
    right = score(question(id="1", evidence=["a"], answers=["Putin"]), result(["a"], answer="Vladimir Putin [1]"))
    refused = score(question(id="2", evidence=["a"], answers=["Putin"]),
                    result(["a"], answer="I couldn't find Putin", refused=True))
    no_answers = score(question(id="3", evidence=["a"]), result(["a"], answer="whatever"))
    metrics = aggregate([right, refused, no_answers])
    assert metrics.answer_accuracy == 0.5
    assert metrics.answer_questions == 2


# -- refusals and latency --------------------------------------------------------------------------

def test_refusal_and_false_refusal_rates():
    outcomes = [
        score(question(id="n1"), result([], refused=True)),
        score(question(id="n2"), result(["a"], answer="made up")),
        score(question(id="n3"), result([], refused=True)),
        score(question(id="n4"), result([], refused=True)),
        score(question(id="a1", evidence=["a"]), result(["a"], refused=True)),
        score(question(id="a2", evidence=["a"]), result(["a"], answer="x")),
    ]
    metrics = aggregate(outcomes)
    assert (metrics.answerable, metrics.unanswerable) == (2, 4)
    assert metrics.refusal_rate == 0.75
    assert metrics.false_refusal_rate == 0.5
    # No-evidence questions never count in retrieval scores.
    assert metrics.hits_at_1 == 1.0


def test_latency_percentiles():
    outcomes = [score(question(id=str(i)), result([], latency=float(v))) for i, v in enumerate(range(1, 101))]
    metrics = aggregate(outcomes)
    assert metrics.latency_p50_ms == pytest.approx(50.5)
    assert metrics.latency_p95_ms == pytest.approx(95.05)
    assert percentile([], 0.5) is None


# -- the whole run ------------------------------------------------------------------------------------

def test_evaluate_reports_overall_and_per_type_and_keeps_attribution():
    questions = [
        question(id="1", type="number", evidence=["a"], answers=["7"], attribution="Data: X (CC-BY)"),
        question(id="2", type="number", evidence=["b"], answers=["8"]),
        question(id="3", type="offtopic"),
        question(id="4", question="x" * 2000, type="offtopic"),
    ]
    replies = {
        "1": result(["a"], cited=[("a", "seven")], answer="It was 7 [1]."),
        "2": result(["a", "b"], cited=[("a", "nine")], answer="It was 9 [1]."),
        "3": result([], refused=True, answer="I couldn't find that"),
    }
    by_text = {q.question: replies.get(q.id) for q in questions}

    def ask(text: str) -> AnswerResult:
        if len(text) > 1000:
            raise QuestionError("the question is too long")
        return by_text[text]

    report = evaluate(questions, ask, system="test", questions_file="q.jsonl")
    assert report.overall.questions == 4
    assert report.per_type["number"].hits_at_1 == 0.5
    assert report.per_type["number"].answer_accuracy == 0.5
    assert report.per_type["offtopic"].refusal_rate == 1.0
    assert report.attribution == ["Data: X (CC-BY)"]
    assert report.outcomes[3].error == "the question is too long"
    assert [o.id for o in report.failures()] == ["2"]
    table = format_table(report)
    assert "Hits@10" in table and "offtopic" in table and "Data: X (CC-BY)" in table
    markdown = format_markdown([report, report.model_copy(update={"system": "baseline"})])
    assert markdown.count("| test |") == 3 and markdown.count("| baseline |") == 3
    assert json.loads(report.model_dump_json())["overall"]["hits_at_1"] == 0.5


# -- the questions file ----------------------------------------------------------------------------------

def test_load_questions_accepts_single_strings_and_rejects_bad_lines(tmp_path):
    good = tmp_path / "q.jsonl"
    good.write_text(json.dumps({"id": 1, "question": "who?", "answers": "Putin", "evidence": "seeds/a.txt"})
                    + "\n\n" + json.dumps({"id": "2", "question": "off topic?", "evidence": []}) + "\n")
    questions = load_questions(good)
    assert questions[0].id == "1" and questions[0].answers == ["Putin"] and questions[0].answerable
    assert not questions[1].answerable

    cases = {
        "{not json": "line 1: malformed JSON",
        json.dumps({"id": "1"}): "line 1: field 'question'",
        json.dumps({"id": "1", "question": "a"}) + "\n" + json.dumps({"id": "1", "question": "b"}):
            "line 2: duplicate question id '1'",
        "[1, 2]": "line 1: expected a JSON object",
        "": "holds no questions",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text)
        with pytest.raises(QuestionsFileError, match=message):
            load_questions(bad)
    with pytest.raises(QuestionsFileError, match="no such questions file"):
        load_questions(tmp_path / "missing.jsonl")


# -- end to end: `newsdesk eval` over the seeds, through the same engine as `newsdesk ask` -------------------

def test_eval_command_over_the_seeds_matches_ask(tmp_path, settings, embedder, capsys):
    from conftest import PROJECT_ROOT, SEEDS
    from newsdesk.cli import main
    from newsdesk.ingestion import Ingestor

    Ingestor(settings, embedder=embedder).ingest_paths([SEEDS])
    questions = PROJECT_ROOT / "benchmarks" / "questions" / "seeds.jsonl"
    report_path = tmp_path / "report.json"
    code = main(["eval", str(questions), "--data-dir", str(settings.data_dir), "--output", str(report_path),
                 "--quiet"])
    table = capsys.readouterr().out
    assert code == 0
    assert table.splitlines()[1].split()[:4] == ["type", "answerable", "no-evidence", "Hits@1"]
    report = json.loads(report_path.read_text())
    assert report["overall"]["questions"] == 21 and report["overall"]["answerable"] == 15
    assert report["attribution"] and report["attribution"][0] in table
    first_row = next(line for line in table.splitlines() if line.startswith("all "))
    assert first_row.split()[3] == f"{report['overall']['hits_at_1']:.3f}"

    # Each question went through the same engine as `ask`: same answer, same citations, same ranking.
    outcome = next(o for o in report["outcomes"] if o["id"] == "s01")
    assert main(["ask", outcome["question"], "--json", "--data-dir", str(settings.data_dir)]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert asked["answer"] == outcome["answer"]
    assert asked["refused"] == outcome["refused"]
    assert len(asked["citations"]) == outcome["citations"]
    assert list(dict.fromkeys(r["article_id"] for r in asked["retrieved"]))[:10] == outcome["articles"]


def test_eval_command_explains_a_bad_questions_file(tmp_path, settings, capsys):
    from newsdesk.cli import main

    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "1", "question": "fine?"}\n{"id": "2"}\n')
    assert main(["eval", str(bad), "--data-dir", str(settings.data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "line 2" in err and "question" in err
    assert main(["eval", str(tmp_path / "missing.jsonl"), "--data-dir", str(settings.data_dir)]) == 2
    assert "no such questions file" in capsys.readouterr().err
