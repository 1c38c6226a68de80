"""The answer engine's typed result: what every front end, the audit trail and the benchmarks read.

`AnswerResult.to_json()` is exactly what `newsdesk ask --json` prints; its keys
are a contract. Fields marked `exclude=True` are for in-process callers (the
audit trail needs each passage's character span) and never reach that JSON.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Turn(BaseModel):
    """One earlier exchange in a conversation, oldest first."""

    question: str
    answer: str = ""


class Citation(BaseModel):
    """A passage the answer cites; `n` matches the `[n]` marker in the answer."""

    n: int
    article_id: str
    chunk_id: str
    title: str | None = None
    source: str | None = None
    published: str | None = Field(None, description="YYYY-MM-DD, or null when the article gives no date.")
    url: str | None = None
    text: str = Field(description="The chunk's text, exactly as stored in the index.")
    start: int | None = Field(None, exclude=True, description="Span of `text` in the article text.")
    end: int | None = Field(None, exclude=True)
    author: str | None = Field(None, exclude=True)
    quote: str | None = Field(None, exclude=True, description="The sentences the answer took from it.")


class Retrieved(BaseModel):
    """One candidate the engine considered, best first."""

    article_id: str
    chunk_id: str
    score: float
    outside_filters: bool = Field(False, description="Related coverage from another outlet or date than the "
                                                     "question names: listed, never cited.")


class AnswerResult(BaseModel):
    """A question and its answer, with the passages it rests on."""

    question: str
    answer: str = Field(description="Short answer with [n] markers, or the refusal sentence.")
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[Retrieved] = Field(default_factory=list)
    answerer: str = Field(description='"extractive" or "llm:MODEL".')
    latency_ms: float
    note: str | None = Field(None, exclude=True,
                             description="Why the LLM answer was replaced, how many markers were dropped, etc.")
    evidence: dict[str, float] | None = Field(None, exclude=True,
                                              description="The extractive answerer's refusal signals.")
    search_query: str | None = Field(None, exclude=True,
                                     description="What was actually searched (a follow-up joined or rewritten).")

    def to_json(self) -> str:
        return self.model_dump_json()


class QuestionError(ValueError):
    """A question the engine will not take (empty, too long); the message is fit for the asker."""


REFUSAL = "I couldn't find that in the news archive."
MAX_QUESTION_CHARS = 1000
