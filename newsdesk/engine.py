"""The answer engine: a question (and its conversation) in, an `AnswerResult` out.

One object holds the loaded model, the store and the keyword index, so a
front end pays for loading once. `ask` is synchronous and thread-safe; the
Discord front end calls it from worker threads. The engine knows nothing of
where questions come from.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from newsdesk.answering import ExtractiveAnswerer, LLMAnswerer, Passage
from newsdesk.config import Settings, SettingsError
from newsdesk.embedding import MiniLMEmbedding, load_embedder
from newsdesk.query import QueryFilters, is_follow_up, parse_filters
from newsdesk.results import (MAX_QUESTION_CHARS, REFUSAL, AnswerResult, Citation, QuestionError, Retrieved,
                              Turn)
from newsdesk.retrieval import Candidate, HybridRetriever, KeywordIndex
from newsdesk.store import ChunkStore

log = logging.getLogger(__name__)

CANDIDATES_SHOWN = 100
PASSAGE_POOL = 30
KEYWORD_SEATS = 2
"""The keyword search's first chunks always reach the answerer (see `_with_keyword_seats`)."""


class EngineStatus(BaseModel):
    """What the bot's `/status` shows."""

    articles: int
    chunks: int
    last_ingest: str | None = Field(None, description="ISO time of the last finished ingestion.")
    embedding_model: str
    answerer: str


class Engine:
    """Hybrid retrieval plus an answerer, over the index in `settings.data_dir` (or a Chroma server)."""

    def __init__(self, settings: Settings, *, embedder: MiniLMEmbedding | None = None,
                 hidden_articles: Callable[[], set[str]] | None = None,
                 today: Callable[[], dt.date] = dt.date.today):
        self.settings = settings
        self.embedder = embedder or load_embedder(settings.embed_batch_size, settings.embed_threads)
        self.store = ChunkStore.open(settings, self.embedder.model_name, self.embedder.dimension, create=False)
        self.retriever = HybridRetriever(self.store, self.embedder, settings.keyword_index_dir)
        self.hidden_articles = hidden_articles or (lambda: set())
        self.today = today
        self.extractive = ExtractiveAnswerer(settings.refusal_threshold)
        self.llm: LLMAnswerer | None = None
        if settings.answerer not in {"extractive", "llm"}:
            raise SettingsError(f"NEWSDESK_ANSWERER is {settings.answerer!r}; use extractive or llm")
        if settings.answerer == "llm":
            if not (settings.llm_base_url and settings.llm_model):
                raise SettingsError("NEWSDESK_ANSWERER=llm needs LLM_BASE_URL and LLM_MODEL")
            self.llm = LLMAnswerer(settings.llm_base_url, settings.llm_model,
                                   settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                                   settings.llm_timeout_seconds, self.extractive)

    @property
    def answerer_name(self) -> str:
        return self.llm.name if self.llm else self.extractive.name

    def warm_up(self) -> None:
        """Load the model and the keyword index now rather than on the first question."""
        self.retriever.keyword_index()
        self.embedder.embed(["warm up"])

    def status(self) -> EngineStatus:
        return EngineStatus(articles=self.store.count_articles(), chunks=self.store.count(),
                            last_ingest=self.store.last_ingest, embedding_model=self.embedder.model_name,
                            answerer=self.answerer_name)

    # -- asking ------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[Turn] = ()) -> AnswerResult:
        started = time.perf_counter()
        question = validate_question(question)
        search_query = self._search_query(question, history)
        keyword = self.retriever.keyword_index()
        filters = parse_filters(search_query, keyword.known_sources(), self.today())
        hidden = frozenset(self.hidden_articles())
        dates_dropped = None
        if filters.relative and not keyword.matches_any(filters, hidden):
            # "treated 2,105 patients last month" in a question about an older article: nothing was
            # published last month (nothing the asker may see), so "last month" is part of the fact,
            # not a date to search.
            where = f" by {', '.join(filters.sources)}" if filters.sources else ""
            dates_dropped = f"nothing was published{where} {filters.relative}; every date searched"
            filters = filters.without_dates(dates_dropped)
        candidates = self.retriever.search(search_query, filters, exclude_articles=hidden, keyword=keyword)
        if filters.newest_first:
            candidates = self._newest_first(candidates, keyword)
        passages = self._passages(candidates)
        answerer = self.llm or self.extractive
        context = search_query if search_query != question else ""
        draft = answerer.answer(question, passages, context=context, idf=keyword.idf,
                                per_source=filters.sources if len(filters.sources) > 1 else ())
        if not draft.refused:
            candidates = self._cited_first(candidates, draft.citations)
        note = "; ".join(filter(None, [draft.note, dates_dropped])) or None
        if not passages and filters.active:
            note = "nothing matched the question's " + "; ".join(filters.notes)
        return AnswerResult(
            question=question,
            answer=draft.answer if not draft.refused else REFUSAL,
            refused=draft.refused,
            citations=[] if draft.refused else draft.citations,
            retrieved=[Retrieved(article_id=c.article_id, chunk_id=c.chunk_id, score=round(c.score, 6),
                                 outside_filters=c.outside_filters)
                       for c in candidates[:max(CANDIDATES_SHOWN, self.settings.top_k)]],
            answerer=draft.answerer,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            note=note,
            evidence=(dict(vars(draft.evidence), score=draft.evidence.score) if draft.evidence else None),
            search_query=search_query if search_query != question else None,
        )

    def _search_query(self, question: str, history: Sequence[Turn]) -> str:
        """Follow-ups are searched with what they follow: rewritten by the LLM when there is one,
        otherwise joined to the previous question."""
        if not history or not is_follow_up(question):
            return question
        previous = history[-1].question
        if self.llm is not None:
            rewritten = self.llm.rewrite(question, [(t.question, t.answer) for t in history])
            if rewritten:
                return rewritten
        return f"{previous} {question}"

    @staticmethod
    def _cited_first(candidates: list[Candidate], citations: Sequence[Citation]) -> list[Candidate]:
        """The passages the answer rests on lead the ranking, in citation order.

        The answerer reads whole sentences against the question, a finer test than the fused
        ranks, so its choice reranks the list (it is right more often than the first rank)."""
        order = {c.chunk_id: c.n for c in citations}
        cited = sorted((c for c in candidates if c.chunk_id in order), key=lambda c: order[c.chunk_id])
        return cited + [c for c in candidates if c.chunk_id not in order]

    def _newest_first(self, candidates: list[Candidate], keyword: KeywordIndex) -> list[Candidate]:
        """'latest': among the relevant candidates the answer may cite, newer articles first.

        Coverage outside the question's outlet or dates is left as it was: a newer story in another
        paper must not set the date "latest" counts back from, nor be lifted above the outlet's own."""
        head = [c for c in candidates if not c.outside_filters][:PASSAGE_POOL]

        def day(c: Candidate) -> int:
            return keyword.published_day_of(c.chunk_id)
        newest = max((day(c) for c in head), default=-1)
        for c in head:
            if newest > 0 and day(c) > 0:
                c.score *= 1.0 + 0.5 * max(0.0, 1.0 - (newest - day(c)) / 365.0)
        return sorted(candidates, key=lambda c: -c.score)

    def _passages(self, candidates: list[Candidate]) -> list[Passage]:
        """The top candidates inside the question's outlet and dates, at most `max_chunks_per_article`
        from one article, numbered from 1."""
        # Twice the passages wanted is enough to fill them despite the per-article cap, and
        # fetching from Chroma is the costliest step after the query embedding.
        citable = [c for c in candidates if not c.outside_filters]
        pool = _with_keyword_seats(citable[:min(PASSAGE_POOL, 2 * self.settings.top_k)], citable,
                                   self.settings.top_k)
        chunks = self.store.get_chunks([c.chunk_id for c in pool])
        per_article: dict[str, int] = {}
        passages: list[Passage] = []
        for candidate in pool:
            if candidate.chunk_id not in chunks:
                continue
            text, metadata = chunks[candidate.chunk_id]
            article = metadata["article_id"]
            if per_article.get(article, 0) >= self.settings.max_chunks_per_article:
                continue
            per_article[article] = per_article.get(article, 0) + 1
            passages.append(Passage.from_chunk(len(passages) + 1, candidate.chunk_id, text, metadata,
                                               candidate.score, candidate.dense))
            if len(passages) >= self.settings.top_k:
                break
        return passages


def _with_keyword_seats(pool: list[Candidate], citable: list[Candidate], top_k: int) -> list[Candidate]:
    """`pool` with the keyword search's first `KEYWORD_SEATS` chunks moved into its first `top_k`.

    Fusion can bury BM25's best: at 100k chunks, the one story naming "the University of
    Kesstead" leads the keyword list, while dense search ranks fifty rival universities' stories
    on the same discovery above it. The answerer, which reads names sentence by sentence, can
    only choose it if it is handed over."""
    head_size = top_k - KEYWORD_SEATS
    if head_size <= 0:
        return pool
    already_in = {c.chunk_id for c in pool[:head_size]}
    seats = [c for c in citable if c.keyword_rank is not None and c.keyword_rank < KEYWORD_SEATS
             and c.chunk_id not in already_in]
    if not seats:
        return pool
    seated = {c.chunk_id for c in seats}
    head = [c for c in pool if c.chunk_id not in seated][:top_k - len(seats)]
    placed = seated | {c.chunk_id for c in head}
    return head + seats + [c for c in pool if c.chunk_id not in placed]


def validate_question(question: str) -> str:
    """Trim; refuse empty and over-long questions with a message fit for the asker."""
    text = " ".join((question or "").split())
    if not text:
        raise QuestionError("Please ask a question, e.g. \"how many crossed at Altanbulag?\"")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"That question is {len(text):,} characters long; please keep it under "
                            f"{MAX_QUESTION_CHARS:,}.")
    return text


__all__ = ["Engine", "EngineStatus", "QueryFilters", "validate_question"]
