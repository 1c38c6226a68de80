"""Evaluation data sets built from third-party data: the MultiHop-RAG sample.

The data is read where it lies (`../shared/bench/multihop` by default) and the
converted corpus and questions are written to a folder of the caller's
choice; nothing of it is kept in the project. Every derived file carries the
data set's attribution (ODC-BY requires it): each corpus record and each
question has an `attribution` field, and a NOTICE file sits beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from newsdesk.evaluation import EvalQuestion, write_questions

MULTIHOP_ATTRIBUTION = (
    "MultiHop-RAG (Tang & Yang, 'MultiHop-RAG: Benchmarking Retrieval-Augmented Generation for "
    "Multi-Hop Queries', COLM 2024, arXiv 2401.15391; github.com/yixuantt/MultiHop-RAG), "
    "Open Data Commons Attribution License (ODC-BY 1.0); article passages belong to their publishers"
)
MULTIHOP_QUERIES = "queries_sample500.jsonl"
MULTIHOP_ARTICLES = "articles_meta_sample500.jsonl"


class DataSetError(ValueError):
    """The source data is missing or not in the expected shape."""


class BuiltDataSet(BaseModel):
    """What a converter wrote."""

    name: str
    corpus: Path
    questions: Path
    articles: int
    answerable: int
    unanswerable: int
    attribution: str


def _read_jsonl(path: Path) -> Iterator[dict]:
    if not path.is_file():
        raise DataSetError(f"{path} is missing")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataSetError(f"{path}, line {number}: malformed JSON ({exc.msg})") from None


def write_notice(folder: Path, attribution: str, what: str) -> None:
    (folder / "NOTICE").write_text(f"{what}\n\nDerived from: {attribution}\n", encoding="utf-8")


def multihop_articles(source: Path) -> list[dict]:
    """One corpus record per evidence article: the title, then its facts as paragraphs.

    The records use the field names newsdesk's JSON reader takes (title, body,
    url, source, author, published_at); with no `id`, an article's id is its url.
    """
    records = []
    for row in _read_jsonl(source / MULTIHOP_ARTICLES):
        facts = [fact.strip() for fact in row.get("facts") or [] if fact and fact.strip()]
        if not row.get("url") or not facts:
            raise DataSetError(f"article {row.get('article_id')!r} has no url or no facts")
        records.append({
            "title": row["title"],
            "body": "\n\n".join(facts),
            "url": row["url"],
            "source": row.get("source"),
            "author": row.get("author"),
            "published_at": row.get("published_at"),
            "category": row.get("category"),
            "attribution": MULTIHOP_ATTRIBUTION,
        })
    return records


def multihop_questions(source: Path, known_urls: set[str]) -> list[EvalQuestion]:
    """Evidence = the evidence articles' urls; passages = the quoted facts; null queries have no evidence."""
    questions = []
    for row in _read_jsonl(source / MULTIHOP_QUERIES):
        evidence = list(dict.fromkeys(item["url"] for item in row.get("evidence_list") or []))
        unknown = [url for url in evidence if url not in known_urls]
        if unknown:
            raise DataSetError(f"query {row['query_id']} cites an article missing from the corpus: {unknown[0]}")
        kind = row.get("question_type") or None
        questions.append(EvalQuestion(
            id=row["query_id"],
            question=row["query"],
            answers=[row["answer"]] if evidence and row.get("answer") else [],
            evidence=evidence,
            passages=list(dict.fromkeys(item["fact"] for item in row.get("evidence_list") or [])),
            type=kind.removesuffix("_query") if kind else None,
            attribution=MULTIHOP_ATTRIBUTION,
        ))
    return questions


def build_multihop(source: Path | str, out_dir: Path | str) -> BuiltDataSet:
    """Write `corpus/multihop_facts.jsonl`, `questions.jsonl` and a NOTICE under `out_dir`."""
    source, out_dir = Path(source), Path(out_dir)
    articles = multihop_articles(source)
    questions = multihop_questions(source, {a["url"] for a in articles})
    corpus_dir = out_dir / "corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    corpus = corpus_dir / "multihop_facts.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for record in articles:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    questions_path = out_dir / "questions.jsonl"
    write_questions(questions_path, questions)
    write_notice(out_dir, MULTIHOP_ATTRIBUTION,
                 "The MultiHop-RAG facts corpus (one article per evidence article: its title and the "
                 "facts the data set quotes from it) and its questions, converted for newsdesk.")
    return BuiltDataSet(
        name="multihop", corpus=corpus, questions=questions_path, articles=len(articles),
        answerable=sum(q.answerable for q in questions),
        unanswerable=sum(not q.answerable for q in questions), attribution=MULTIHOP_ATTRIBUTION,
    )
