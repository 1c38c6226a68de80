"""Chunks are whole sentences, fit the model's window with their header, and point back into the text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from newsdesk.articles import Article, SourceFile, parse_file
from newsdesk.chunking import Chunker, chunk_header, split_sentences
from newsdesk.embedding import MAX_TOKENS

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_4510fe1ca80486bb.txt"


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.count_tokens, embedder.token_offsets, target_tokens=200, overlap_tokens=40)


def model_tokens(embedder, text: str) -> int:
    """Tokens the model sees for this text, [CLS] and [SEP] included, without truncation."""
    return len(embedder._counter.encode(text, add_special_tokens=True).ids)


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text)]


@pytest.mark.parametrize("text, expected", [
    ("The vote is on Aug. 5 in Washington. It will be close.",
     ["The vote is on Aug. 5 in Washington.", "It will be close."]),
    ("Gov. Jane Smith spoke. Then she left.", ["Gov. Jane Smith spoke.", "Then she left."]),
    ("U.S. officials met in the U.K. on Monday. The talks ended.",
     ["U.S. officials met in the U.K. on Monday.", "The talks ended."]),
    ("Troops left the U.S. The next day they landed.", ["Troops left the U.S.", "The next day they landed."]),
    ("Mr. Lee and Dr. Park met at 9 a.m. on Jan. 3. It rained.",
     ["Mr. Lee and Dr. Park met at 9 a.m. on Jan. 3.", "It rained."]),
    ('"We won," she said. "Really?" he asked.', ['"We won," she said.', '"Really?" he asked.']),
    ("John F. Kennedy spoke. Prices rose 3.5 percent.", ["John F. Kennedy spoke.", "Prices rose 3.5 percent."]),
    ("A heading\nA paragraph. Another one!", ["A heading", "A paragraph.", "Another one!"]),
    ("It cost $5 vs. $6 last year. Sales fell.", ["It cost $5 vs. $6 last year.", "Sales fell."]),
])
def test_sentence_splitter_keeps_abbreviations_whole(text, expected):
    assert sentences(text) == expected


def test_sentence_spans_exclude_surrounding_whitespace():
    text = "  First one.   Second one.\n\n  Third  "
    assert sentences(text) == ["First one.", "Second one.", "Third"]


def test_seed_chunks_point_back_into_the_article_and_fit_the_window(chunker, embedder):
    article = next(parse_file(SourceFile(SEED, SEED.parent)))
    chunks = chunker.chunk(article)
    assert len(chunks) >= 3
    header = chunk_header(article)
    assert header == "'Better than killing people': Russians flee into Mongolia\nAFP, 2022"
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert chunk.embed_text == f"{header}\n\n{chunk.text}"
        assert model_tokens(embedder, chunk.embed_text) <= MAX_TOKENS
        for span in chunk.sentences:
            sentence = chunk.text[span.start:span.end]
            assert sentence and sentence == sentence.strip()
    assert chunks[0].start == 0
    assert chunks[-1].end == len(article.text)
    # Neighbours overlap (or at least touch): no sentence of the article is left out.
    for before, after in zip(chunks, chunks[1:]):
        assert after.start <= before.end + 2
        assert after.start > before.start
    covered = {s.start + c.start for c in chunks for s in c.sentences}
    assert covered == {s.start for s in split_sentences(article.text)}


def test_chunk_sizes_stay_near_the_target(chunker, embedder):
    text = " ".join(f"Sentence number {i} reports that the council met and voted on item {i}." for i in range(200))
    article = Article(id="long", title="Council", text=text, source="Gazette", published=dt.date(2023, 1, 2))
    chunks = chunker.chunk(article)
    sizes = [embedder.count_tokens([c.text])[0] for c in chunks]
    assert all(size <= 200 for size in sizes)
    assert all(size >= 150 for size in sizes[:-1]), sizes
    assert chunks[0].embed_text.startswith("Council\nGazette, 2023-01-02\n\n")


def test_an_overlong_sentence_and_title_still_fit_and_are_cut_between_words(chunker, embedder):
    words = [f"word{i}" for i in range(900)]
    article = Article(id="x", title=" ".join(["Headline"] * 200), text=" ".join(words), source="Wire")
    chunks = chunker.chunk(article)
    assert len(chunks) > 3
    for chunk in chunks:
        assert model_tokens(embedder, chunk.embed_text) <= MAX_TOKENS
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text.split()[0] in words and chunk.text.split()[-1] in words
        assert chunk.embed_text.split("\n\n")[0].endswith("\nWire"), "the outlet survives a cut title"
    assert " ".join(c.text for c in chunks) == article.text


def test_a_one_sentence_article_is_one_chunk(chunker):
    article = Article(id="s", title="", text="Only this.")
    [chunk] = chunker.chunk(article)
    assert (chunk.start, chunk.end, chunk.text, chunk.embed_text) == (0, 10, "Only this.", "Only this.")
