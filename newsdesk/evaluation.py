"""Evaluation: how often the engine finds, cites and answers what a question needs, or refuses.

A questions file holds one JSON object per line (see `EvalQuestion`). Each
question runs through a callable that returns an `AnswerResult` (the very
engine behind `newsdesk ask`, or a baseline) and is scored on:

* retrieval, over `retrieved` deduplicated to articles in rank order:
  Hits@1, Hits@4, Hits@k, MRR@k and All@k (every evidence article among the
  first k; multi-document questions need all of them);
* citation precision: the share of cited passages that come from an evidence
  article (mean over questions that cite anything);
* passage hit: some cited passage contains some evidence passage's text,
  whitespace- and case-insensitive (over questions that give `passages`; a
  refusal is a miss);
* answer accuracy: some accepted answer appears in the answer as whole words,
  case- and punctuation-insensitive (over answerable questions with `answers`;
  a refusal is a miss);
* refusal rate on questions without evidence, false-refusal rate on the others;
* latency p50/p95 (the engine's own `latency_ms`).

Retrieval, citation and answer scores are taken over answerable questions only.
Evidence may name an article by id or by url; an article matches if either
does (an article's id is its url whenever the file gives a url and no id).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsdesk.results import AnswerResult, QuestionError

Ask = Callable[[str], AnswerResult]
UNTYPED = "untyped"


class QuestionsFileError(ValueError):
    """A questions file that cannot be used; the message names the file and line."""


class EvalQuestion(BaseModel):
    """One line of a questions file."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list, description="Accepted answers; any one counts.")
    evidence: list[str] = Field(
        default_factory=list,
        description="Ids or urls of the articles that hold the answer; empty: the archive has none.")
    passages: list[str] = Field(default_factory=list, description="The evidence text itself.")
    type: str | None = None
    attribution: str | None = Field(None, description="Where the question comes from, and its licence.")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("answers", "evidence", "passages", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def load_questions(path: Path | str) -> list[EvalQuestion]:
    """Read a questions file; any bad line stops it with the line number and the reason."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise QuestionsFileError(f"no such questions file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionsFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionsFileError(f"{path}, line {number}: malformed JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise QuestionsFileError(f"{path}, line {number}: expected a JSON object")
        try:
            question = EvalQuestion.model_validate(record)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error.get("loc", ())) or "?"
            raise QuestionsFileError(f"{path}, line {number}: field {field!r}: {error.get('msg')}") from None
        if question.id in seen:
            raise QuestionsFileError(f"{path}, line {number}: duplicate question id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise QuestionsFileError(f"{path} holds no questions")
    return questions


def write_questions(path: Path | str, questions: Iterable[EvalQuestion]) -> int:
    """Write a questions file (what the converters produce); returns how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for question in questions:
            handle.write(question.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count


# -- text matching ----------------------------------------------------------------------

MARKER = re.compile(r"\[\d+\]")
DIGIT_GROUP = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
NON_WORD = re.compile(r"[\W_]+")


def normalise_answer(text: str) -> str:
    """Lower case, `[n]` markers dropped, punctuation as spaces; "3,000" and "3000" agree."""
    text = MARKER.sub(" ", text.lower())
    text = DIGIT_GROUP.sub("", text)
    return " ".join(NON_WORD.sub(" ", text).split())


def answer_matches(answer: str, accepted: Iterable[str]) -> bool:
    """Some accepted answer occurs in `answer` as whole words."""
    haystack = f" {normalise_answer(answer)} "
    for candidate in accepted:
        needle = normalise_answer(candidate)
        if needle and f" {needle} " in haystack:
            return True
    return False


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def passage_matches(cited_texts: Iterable[str], passages: Iterable[str]) -> bool:
    """Some cited text contains some evidence passage, ignoring case and whitespace."""
    cited = [_squash(text) for text in cited_texts]
    wanted = [_squash(passage) for passage in passages if passage.strip()]
    return any(passage in text for passage in wanted for text in cited)


# -- scoring one question -----------------------------------------------------------------

class QuestionOutcome(BaseModel):
    """How one question fared; the report keeps these for reading the failures."""

    id: str
    type: str
    question: str
    answerable: bool
    refused: bool
    answer: str = ""
    articles: list[str] = Field(default_factory=list,
                                description="Retrieved articles, deduplicated, first k, best first.")
    first_hit_rank: int | None = Field(None, description="1-based rank of the first evidence article.")
    evidence_found: int = 0
    evidence_total: int = 0
    citations: int = 0
    citation_precision: float | None = None
    passage_hit: bool | None = None
    answer_correct: bool | None = None
    latency_ms: float = 0.0
    error: str | None = Field(None, description="Why the engine would not take the question.")

    @property
    def all_found(self) -> bool:
        return self.evidence_total > 0 and self.evidence_found == self.evidence_total


class EvidenceMatcher:
    """Tells whether an article is one a question names, by id or by url.

    `urls` maps article ids to urls for articles whose id is not their url
    (files that state an explicit id); citations add to it as they are seen.
    """

    def __init__(self, urls: Mapping[str, str] | None = None):
        self.urls = dict(urls or {})

    def names(self, article_id: str) -> set[str]:
        url = self.urls.get(article_id)
        return {article_id, url} if url else {article_id}

    def learn(self, result: AnswerResult) -> None:
        for citation in result.citations:
            if citation.url and citation.url != citation.article_id:
                self.urls.setdefault(citation.article_id, citation.url)


def dedupe_articles(result: AnswerResult) -> list[str]:
    """Retrieved chunks reduced to their articles, in rank order."""
    seen: dict[str, None] = {}
    for item in result.retrieved:
        seen.setdefault(item.article_id, None)
    return list(seen)


def score(question: EvalQuestion, result: AnswerResult, *, k: int = 10,
          matcher: EvidenceMatcher | None = None) -> QuestionOutcome:
    """Score one answer against its question (pure: no engine, no index)."""
    matcher = matcher or EvidenceMatcher()
    matcher.learn(result)
    articles = dedupe_articles(result)[:k]
    evidence = list(dict.fromkeys(question.evidence))
    outcome = QuestionOutcome(
        id=question.id, type=question.type or UNTYPED, question=question.question,
        answerable=question.answerable, refused=result.refused, answer=result.answer,
        articles=articles, citations=len(result.citations), latency_ms=result.latency_ms,
        evidence_total=len(evidence),
    )
    if not question.answerable:
        return outcome
    wanted = set(evidence)
    for rank, article in enumerate(articles, start=1):
        if matcher.names(article) & wanted:
            outcome.first_hit_rank = rank
            break
    found = set()
    for article in articles:
        found |= matcher.names(article) & wanted
    outcome.evidence_found = len(found)
    cited = [] if result.refused else result.citations
    if cited:
        good = sum(1 for c in cited if ({c.article_id, c.url} - {None}) & wanted
                   or matcher.names(c.article_id) & wanted)
        outcome.citation_precision = good / len(cited)
    if question.passages:
        outcome.passage_hit = passage_matches([c.text for c in cited], question.passages)
    if question.answers:
        outcome.answer_correct = not result.refused and answer_matches(result.answer, question.answers)
    return outcome


def error_outcome(question: EvalQuestion, error: str) -> QuestionOutcome:
    """A question the engine turned down (too long, empty): counted as a refusal."""
    return QuestionOutcome(
        id=question.id, type=question.type or UNTYPED, question=question.question,
        answerable=question.answerable, refused=True, error=error,
        evidence_total=len(set(question.evidence)),
        passage_hit=False if question.answerable and question.passages else None,
        answer_correct=False if question.answerable and question.answers else None,
    )


# -- aggregating ------------------------------------------------------------------------------

class Metrics(BaseModel):
    """Figures over a set of questions; None where no question qualifies."""

    questions: int
    answerable: int
    unanswerable: int
    hits_at_1: float | None = None
    hits_at_4: float | None = None
    hits_at_k: float | None = None
    mrr_at_k: float | None = None
    all_at_k: float | None = None
    citation_precision: float | None = None
    cited_questions: int = Field(0, description="Answerable questions with at least one citation.")
    passage_hit: float | None = None
    passage_questions: int = 0
    answer_accuracy: float | None = None
    answer_questions: int = 0
    refusal_rate: float | None = Field(None, description="Refused, among questions with no evidence.")
    false_refusal_rate: float | None = Field(None, description="Refused, among answerable questions.")
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def aggregate(outcomes: list[QuestionOutcome], *, k: int = 10) -> Metrics:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]

    def hits(depth: int) -> float | None:
        return _mean([1.0 if o.first_hit_rank and o.first_hit_rank <= depth else 0.0 for o in answerable])

    cited = [o.citation_precision for o in answerable if o.citation_precision is not None]
    passages = [o.passage_hit for o in answerable if o.passage_hit is not None]
    answers = [o.answer_correct for o in answerable if o.answer_correct is not None]
    latencies = [o.latency_ms for o in outcomes if o.error is None]
    return Metrics(
        questions=len(outcomes), answerable=len(answerable), unanswerable=len(unanswerable),
        hits_at_1=hits(1), hits_at_4=hits(min(4, k)), hits_at_k=hits(k),
        mrr_at_k=_mean([1.0 / o.first_hit_rank if o.first_hit_rank else 0.0 for o in answerable]),
        all_at_k=_mean([1.0 if o.all_found else 0.0 for o in answerable]),
        citation_precision=_mean(cited), cited_questions=len(cited),
        passage_hit=_mean([1.0 if hit else 0.0 for hit in passages]), passage_questions=len(passages),
        answer_accuracy=_mean([1.0 if ok else 0.0 for ok in answers]), answer_questions=len(answers),
        refusal_rate=_mean([1.0 if o.refused else 0.0 for o in unanswerable]),
        false_refusal_rate=_mean([1.0 if o.refused else 0.0 for o in answerable]),
        latency_p50_ms=percentile(latencies, 0.50), latency_p95_ms=percentile(latencies, 0.95),
    )


class EvalReport(BaseModel):
    """What `newsdesk eval --json` writes."""

    system: str = Field(description="What answered: 'newsdesk (extractive)', a baseline, ...")
    questions_file: str
    k: int
    created: str
    attribution: list[str] = Field(default_factory=list, description="Licences of the questions used.")
    overall: Metrics
    per_type: dict[str, Metrics]
    outcomes: list[QuestionOutcome]
    notes: list[str] = Field(default_factory=list)

    def failures(self) -> list[QuestionOutcome]:
        """Questions that missed any goal: not first, not all found, not cited, not answered, refused."""
        bad = []
        for o in self.outcomes:
            if not o.answerable:
                if not o.refused:
                    bad.append(o)
            elif (o.refused or o.first_hit_rank != 1 or not o.all_found or o.passage_hit is False
                  or o.answer_correct is False):
                bad.append(o)
        return bad


def build_report(questions: list[EvalQuestion], outcomes: list[QuestionOutcome], *, system: str,
                 questions_file: str, k: int, notes: Iterable[str] = ()) -> EvalReport:
    by_type: dict[str, list[QuestionOutcome]] = {}
    for outcome in outcomes:
        by_type.setdefault(outcome.type, []).append(outcome)
    attribution = list(dict.fromkeys(q.attribution for q in questions if q.attribution))
    return EvalReport(
        system=system, questions_file=questions_file, k=k,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        attribution=attribution, overall=aggregate(outcomes, k=k),
        per_type={name: aggregate(group, k=k) for name, group in sorted(by_type.items())},
        outcomes=outcomes, notes=list(notes),
    )


def evaluate(questions: list[EvalQuestion], ask: Ask, *, k: int = 10, system: str = "newsdesk",
             questions_file: str = "", urls: Mapping[str, str] | None = None,
             progress: Callable[[Iterable], Iterable] | None = None,
             notes: Iterable[str] = ()) -> EvalReport:
    """Run every question through `ask` and score it. `progress` wraps the loop (a tqdm bar)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    matcher = EvidenceMatcher(urls)
    outcomes: list[QuestionOutcome] = []
    loop = progress(questions) if progress else questions
    for question in loop:
        try:
            result = ask(question.question)
        except QuestionError as exc:
            outcomes.append(error_outcome(question, str(exc)))
            continue
        outcomes.append(score(question, result, k=k, matcher=matcher))
    return build_report(questions, outcomes, system=system, questions_file=questions_file, k=k, notes=notes)


# -- tables ------------------------------------------------------------------------------------

COLUMNS: list[tuple[str, str]] = [
    ("hits_at_1", "Hits@1"), ("hits_at_4", "Hits@4"), ("hits_at_k", "Hits@{k}"), ("mrr_at_k", "MRR@{k}"),
    ("all_at_k", "All@{k}"), ("citation_precision", "CitePrec"), ("passage_hit", "PassHit"),
    ("answer_accuracy", "AnsAcc"), ("refusal_rate", "Refused"), ("false_refusal_rate", "FalseRef"),
    ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"),
]


def _cell(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if name.startswith("latency") else f"{value:.3f}"


def metric_rows(report: EvalReport, label: str | None = None) -> list[list[str]]:
    """One row for the whole set, then one per question type."""
    rows = []
    groups = [("all", report.overall)] + list(report.per_type.items())
    if len(report.per_type) == 1:
        groups = groups[:1]
    for name, metrics in groups:
        head = [label] if label is not None else []
        rows.append(head + [name, str(metrics.answerable), str(metrics.unanswerable)]
                    + [_cell(field, getattr(metrics, field)) for field, _ in COLUMNS])
    return rows


def headers(k: int, *, with_system: bool = False) -> list[str]:
    return (["system"] if with_system else []) + ["type", "answerable", "no-evidence"] + [
        title.format(k=k) for _, title in COLUMNS]


def format_table(report: EvalReport) -> str:
    """A plain-text table for the terminal."""
    rows = [headers(report.k)] + metric_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text = [f"{report.system} on {report.questions_file} ({report.overall.questions} questions, k={report.k})",
            *lines]
    text += [f"note: {note}" for note in report.notes]
    text += [f"data: {line}" for line in report.attribution]
    return "\n".join(text)


def format_markdown(reports: list[EvalReport]) -> str:
    """Systems side by side (one row per system and type), for benchmarks/README.md."""
    k = reports[0].k
    rows = [headers(k, with_system=True)]
    for report in reports:
        rows += metric_rows(report, label=report.system)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


# -- running against the engine -------------------------------------------------------------------

def article_urls(store) -> dict[str, str]:
    """Article id -> url for articles whose id is not their url (so evidence may name either)."""
    urls: dict[str, str] = {}
    for _, metadata, _ in store.iter_chunks():
        url = metadata.get("url")
        if url and url != metadata.get("article_id"):
            urls.setdefault(metadata["article_id"], url)
    return urls


def tqdm_wrapper(enabled: bool) -> Callable[[Iterable], Iterable] | None:
    """A progress bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return lambda items: tqdm(items, unit="question", desc="evaluating", leave=False, file=sys.stderr)


def evaluate_engine(settings, questions_path: Path | str, *, k: int = 10, progress: bool = False,
                    engine=None) -> EvalReport:
    """Every question of the file through the same engine as `newsdesk ask`."""
    from newsdesk.engine import Engine

    questions = load_questions(questions_path)
    engine = engine or Engine(settings)
    engine.warm_up()
    status = engine.status()
    notes = [f"index: {status.articles} articles, {status.chunks} chunks; chunks of {settings.chunk_tokens} "
             f"tokens (overlap {settings.chunk_overlap_tokens}); top_k {settings.top_k}; refusal threshold "
             f"{settings.refusal_threshold}"]
    return evaluate(questions, engine.ask, k=k, system=f"newsdesk ({engine.answerer_name})",
                    questions_file=str(questions_path), urls=article_urls(engine.store),
                    progress=tqdm_wrapper(progress), notes=notes)
