"""A tiny real corpus for the audit, CLI and review-page tests, and answers built from its real chunks.

Until the engine is there to ask, answers are assembled from chunks read back
out of a real ingested index (real chunk ids, texts and character spans), the
way the engine assembles them.
"""

from __future__ import annotations

import datetime as dt

from ingest_support import make_settings  # noqa: F401 (the audit, CLI and review tests import it from here)
from newsdesk.articles import Article
from newsdesk.config import Settings
from newsdesk.embedding import DIMENSION, MODEL_ID
from newsdesk.results import AnswerResult, Citation, Retrieved
from newsdesk.store import ChunkStore

MONGOLIA = Article(
    id="afp-mongolia-2022",
    title="'Better than killing people': Russians flee into Mongolia",
    source="AFP",
    author="Byambasuren Byamba-Ochir",
    url="https://example.org/news/russians-flee-into-mongolia",
    published=dt.date(2022, 9, 29),
    text=(
        "On a bright morning in Mongolia's capital Ulaanbaatar, a young Russian fleeing Moscow's first "
        "military call-up since World War II had a stark answer for why he had left: \"I don't want to "
        "kill people.\"\n\n"
        "He was among thousands of Russians who have streamed across the land border into Mongolia over "
        "the past week since President Vladimir Putin issued a mobilization order for the war in Ukraine.\n\n"
        "The announcement sent shock waves across the vast nation and triggered an international exodus, "
        "with tens of thousands leaving the country since the mobilization.\n\n"
        "More than 3,000 Russians crossed at the Altanbulag checkpoint on Monday alone, Mongolian border "
        "officials said, a number that has kept climbing every day since the order was announced.\n\n"
        "Many of those arriving in Ulaanbaatar are young men from Buryatia, a region of Siberia with a "
        "large ethnic Mongol population, who say they were handed summons at their homes and workplaces.\n\n"
        "Hostels in the capital are full, and volunteers have opened their flats to the new arrivals, "
        "offering food, SIM cards and advice on how to register with the authorities.\n\n"
        "Mongolia has said it will not turn back Russians who enter legally, though it has urged them to "
        "register within a week and warned that it cannot house everyone who comes."
    ),
)

HARBOUR = Article(
    id="harbour-ferry-2023",
    title="Harbour ferry service returns after storm repairs",
    source="Coastal Herald",
    published=dt.date(2023, 3, 14),
    text=(
        "The harbour ferry resumed its crossings on Tuesday after three weeks of repairs to the pier "
        "damaged in the February storm.\n\n"
        "The council said the new landing stage cost 1.2 million euros and should withstand waves of up "
        "to four metres."
    ),
)

SCRIPTED = Article(
    id="scripted-page",
    title="Notes on <script> tags & @everyone",
    source="Test Wire",
    published=dt.date(2024, 1, 5),
    text=(
        "A web page once carried this inline code: <script>document.title = 'pwned'; window.__pwned = 1;"
        "</script> and nobody noticed.\n\n"
        "An <img src=x onerror=\"window.__pwned = 2\"> tag was hidden beside it, along with @everyone."
    ),
)

ARTICLES = [MONGOLIA, HARBOUR, SCRIPTED]


def ingest_corpus(settings: Settings, articles: list[Article] = ARTICLES, embedder=None) -> None:
    from newsdesk.ingestion import Ingestor

    summary = Ingestor(settings, embedder=embedder).ingest_articles(list(articles))
    assert not summary.failures, summary.failures


def open_chunks(settings: Settings) -> ChunkStore:
    return ChunkStore.open(settings, MODEL_ID, DIMENSION, create=False)


def chunks_of(store: ChunkStore, article_id: str) -> list[tuple[str, dict, str]]:
    """(chunk id, metadata, text) of one article's chunks, in article order."""
    found = list(store.iter_chunks(include=("metadatas", "documents"), where={"article_id": article_id}))
    return sorted(found, key=lambda item: item[1]["chunk_index"])


def answer_from_chunks(store: ChunkStore, question: str, chunk_ids: list[str], *,
                       answer: str | None = None, latency_ms: float = 123.5) -> AnswerResult:
    """An answer citing these chunks, [1] [2] ..., the way the engine fills a Citation."""
    found = store.get_chunks(chunk_ids)
    citations = []
    for n, cid in enumerate(chunk_ids, start=1):
        text, meta = found[cid]
        citations.append(Citation(
            n=n, article_id=meta["article_id"], chunk_id=cid, title=meta.get("title"),
            source=meta.get("source"), published=meta.get("published"), url=meta.get("url"), text=text,
            start=meta["start"], end=meta["end"], author=meta.get("author"),
            quote=text.split(". ")[0],
        ))
    retrieved = [Retrieved(article_id=c.article_id, chunk_id=c.chunk_id, score=round(0.9 - 0.1 * i, 3))
                 for i, c in enumerate(citations)]
    body = answer or " ".join(f"{c.quote} [{c.n}]." for c in citations)
    return AnswerResult(question=question, answer=body, refused=False, citations=citations,
                        retrieved=retrieved, answerer="extractive", latency_ms=latency_ms,
                        search_query=question)
