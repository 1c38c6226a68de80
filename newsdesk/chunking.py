"""Sentence-aware chunks that fit the embedding model's window.

Sentences are found with a splitter that knows news abbreviations ("Aug.",
"Gov.", "U.S.", initials), so dates and names stay whole. Chunks are runs of
whole sentences of about `target_tokens` model tokens, neighbours sharing
about `overlap_tokens`, and each records its character span in the article
text. The embedded text leads with the title, outlet and date so that a chunk
deep in an article still matches questions about the article's subject; the
chunk body is cut short enough that this header never pushes it past the
model's 256-token window.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsdesk.articles import Article

CHUNKER_VERSION = "2"
MAX_HEADER_TOKENS = 64

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gov", "sen", "rep", "gen", "lt", "col", "sgt", "capt", "cmdr",
    "adm", "maj", "pres", "st", "jr", "sr", "inc", "corp", "co", "ltd", "plc", "llc", "bros", "dept",
    "univ", "assn", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "no", "nos",
    "vs", "v", "etc", "approx", "est", "ft", "mt", "ave", "blvd", "rd", "hwy", "fig", "vol", "pp",
    "gov't", "rev", "hon", "messrs", "mme", "mlle", "atty", "supt", "det", "insp", "ph", "al",
}
# Dotted forms such as U.S., U.K., e.g., a.m., p.m., Ph.D.
DOTTED = re.compile(r"(?:[A-Za-z]\.){2,}$")
BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+)|\n")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_sentences(text: str) -> list[Span]:
    """Sentence spans (start, end) in `text`, leading/trailing whitespace excluded.

    A line break always ends a sentence (news paragraphs and headings are
    lines); a full stop ends one unless it closes an abbreviation, an initial
    or a dotted acronym, or the next word starts in lower case.
    """
    spans: list[Span] = []
    start = 0
    for match in BOUNDARY.finditer(text):
        end = match.end()
        if match.group() != "\n":
            if not _ends_sentence(text, match.start(), end):
                continue
        _append(spans, text, start, end)
        start = end
    _append(spans, text, start, len(text))
    return spans


def _ends_sentence(text: str, mark: int, end: int) -> bool:
    if text[mark] in "!?":
        return _next_word_starts_sentence(text, end)
    word_match = re.search(r"(\S+)$", text[:mark])
    word = word_match.group(1) if word_match else ""
    bare = word.lstrip("\"'“‘([").lower()
    if bare in ABBREVIATIONS:
        # "in Washington, D.C. Mr. ..." stays; "Aug. 5" stays; an abbreviation
        # before a capitalised word that starts a new sentence is rare enough.
        return False
    if len(bare) == 1 and bare.isalpha():
        return False
    if DOTTED.search(word + "."):
        nxt = _next_word(text, end)
        # "the U.S. The next day" ends a sentence; "U.S. officials" does not.
        return nxt in {"The", "A", "An", "He", "She", "It", "They", "We", "I", "But", "In", "On", "This"}
    if re.fullmatch(r"\d+", bare) and re.match(r"\s+\d", text[end:end + 3]):
        return False
    return _next_word_starts_sentence(text, end)


def _next_word(text: str, end: int) -> str:
    match = re.match(r"\s*(\S+)", text[end:end + 80])
    return match.group(1) if match else ""


def _next_word_starts_sentence(text: str, end: int) -> bool:
    word = _next_word(text, end).lstrip("\"'“‘([—–-")
    return not word or not word[0].islower()


def _append(spans: list[Span], text: str, start: int, end: int) -> None:
    segment = text[start:end]
    stripped_start = start + (len(segment) - len(segment.lstrip()))
    stripped_end = end - (len(segment) - len(segment.rstrip()))
    if stripped_end > stripped_start:
        spans.append(Span(stripped_start, stripped_end))


def _word_cuts(text: str, offsets: list[tuple[int, int]], budget: int) -> list[int]:
    """Token indexes at which to cut a run of tokens into pieces of at most `budget` tokens.

    A cut goes before a token that starts a new word (whitespace before it), so
    that no word is split and each piece counts the same tokens alone as it does
    in its chunk; only a single "word" longer than the budget is cut inside.
    """
    cuts: list[int] = []
    start = 0
    while len(offsets) - start > budget:
        limit = start + budget
        cut = next((k for k in range(limit, start, -1)
                    if offsets[k][0] > offsets[k - 1][1] and text[offsets[k - 1][1]:offsets[k][0]].isspace()),
                   limit)
        cuts.append(cut)
        start = cut
    return cuts


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: its span in the article text and what gets embedded."""

    article_id: str
    index: int
    start: int
    end: int
    text: str
    embed_text: str
    sentences: tuple[Span, ...]
    """Sentence spans relative to `start`; the answerer picks sentences from them."""


def chunk_header(article: Article) -> str:
    """Title, outlet and date: embedded (and keyword-indexed) with every chunk."""
    meta = ", ".join(
        part for part in (article.source, article.published.isoformat() if article.published else
                          (str(article.year) if article.year else None)) if part
    )
    return "\n".join(part for part in (article.title, meta) if part)


class Chunker:
    """Greedy packing of whole sentences into chunks within a token budget."""

    def __init__(
        self,
        count_tokens: Callable[[Sequence[str]], list[int]],
        token_offsets: Callable[[str], list[tuple[int, int]]],
        target_tokens: int = 200,
        overlap_tokens: int = 40,
        window_tokens: int = 256,
    ):
        self.count_tokens = count_tokens
        self.token_offsets = token_offsets
        self.target_tokens = target_tokens
        self.overlap_tokens = overlap_tokens
        self.window_tokens = window_tokens

    def chunk(self, article: Article) -> list[Chunk]:
        header = self._fit_header(chunk_header(article))
        header_tokens = self.count_tokens([header])[0] if header else 0
        # [CLS] and [SEP] around header and body (the blank line between them is no token).
        budget = max(8, min(self.target_tokens, self.window_tokens - header_tokens - 2))
        sentences = self._fit_sentences(article.text, split_sentences(article.text), budget)
        sizes = self.count_tokens([article.text[s.start:s.end] for s in sentences])
        chunks: list[Chunk] = []
        first = 0
        while first < len(sentences):
            last, used = first, 0
            while last < len(sentences) and (last == first or used + sizes[last] <= budget):
                used += sizes[last]
                last += 1
            chunks.append(self._make_chunk(article, header, len(chunks), sentences[first:last]))
            if last >= len(sentences):
                break
            # Step back over trailing sentences that fit in the overlap, but always advance.
            next_first, carried = last, 0
            while next_first - 1 > first and carried + sizes[next_first - 1] <= self.overlap_tokens:
                next_first -= 1
                carried += sizes[next_first]
            first = next_first
        return chunks

    def _fit_header(self, header: str) -> str:
        """A very long title is cut (at a word) so that the chunk body keeps most of the window."""
        if not header or self.count_tokens([header])[0] <= MAX_HEADER_TOKENS:
            return header
        title, _, meta = header.partition("\n")
        room = max(8, MAX_HEADER_TOKENS - (self.count_tokens([meta])[0] if meta else 0))
        offsets = self.token_offsets(title)
        if len(offsets) > room:
            title = title[:offsets[_word_cuts(title, offsets, room)[0]][0]].rstrip()
        return "\n".join(part for part in (title, meta) if part)

    def _fit_sentences(self, text: str, sentences: list[Span], budget: int) -> list[Span]:
        """Split any sentence longer than the budget into pieces that fit, between words where possible."""
        sizes = self.count_tokens([text[s.start:s.end] for s in sentences])
        fitted: list[Span] = []
        for span, size in zip(sentences, sizes):
            if size <= budget:
                fitted.append(span)
                continue
            offsets = self.token_offsets(text[span.start:span.end])
            bounds = [0, *_word_cuts(text[span.start:span.end], offsets, budget), len(offsets)]
            for first, last in zip(bounds, bounds[1:]):
                piece_end = offsets[last][0] if last < len(offsets) else span.end - span.start
                _append(fitted, text, span.start + offsets[first][0], span.start + piece_end)
        return fitted

    @staticmethod
    def _make_chunk(article: Article, header: str, index: int, sentences: list[Span]) -> Chunk:
        start, end = sentences[0].start, sentences[-1].end
        body = article.text[start:end]
        return Chunk(
            article_id=article.id,
            index=index,
            start=start,
            end=end,
            text=body,
            embed_text=f"{header}\n\n{body}" if header else body,
            sentences=tuple(Span(s.start - start, s.end - start) for s in sentences),
        )
