"""Ingestion as a library: incremental, idempotent, pruning, rebuilding and repairing what a crash left.

The re-ingestion tests run twice: against the embedded store and against a
live Chroma server the session starts (`chroma run`).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from ingest_support import (assert_index_is_exactly, current_articles, index_contents, make_settings,
                            open_store, write_article)
from newsdesk.ingestion import Ingestor, UsageError
from newsdesk.store import ModelMismatch, chunk_id

LONG_BODY = "\n\n".join(
    f"Paragraph {i}: the harbour authority said on Tuesday that repairs to pier {i} would take "
    f"about {i + 2} weeks, and that ferries would use the northern landing stage until then."
    for i in range(6))


def make_corpus(root: Path) -> Path:
    write_article(root, "ferry.txt", "Ferry returns", LONG_BODY, source="Coastal Herald", published="2023-03-14",
                  author="Ana Ruiz", url="https://herald.example/ferry")
    write_article(root, "budget.txt", "Council passes budget", "The council passed the budget 7-2 on Monday.")
    write_article(root, "sub/storm.md", "Storm closes schools", "Schools closed on Friday.\n\n(c) 2021 Gazette")
    (root / "wire.jsonl").write_text(
        '{"id": "w1", "title": "Rates rise", "body": "The bank raised rates.", "source": "Wire"}\n'
        '{"id": "w2", "title": "Rates hold", "body": "The bank held rates.", "source": "Wire"}\n')
    return root


# Small chunks keep the model's work (and the tests) short while articles still span several chunks.
SMALL_CHUNKS = {"chunk_tokens": 64, "chunk_overlap_tokens": 16}


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def settings(request, tmp_path):
    if request.param == "embedded":
        return make_settings(tmp_path / "data", **SMALL_CHUNKS)
    server = request.getfixturevalue("chroma_server")
    return server.settings(tmp_path / "data", collection=f"t{uuid.uuid4().hex[:12]}").model_copy(
        update=SMALL_CHUNKS)


@pytest.fixture
def ingestor(settings, embedder):
    return Ingestor(settings, embedder)


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path / "corpus")


def chunk_ids_of(ingestor: Ingestor, article_id: str) -> set[str]:
    return {cid for cid, meta in index_contents(open_store(ingestor)).chunks.items()
            if meta["article_id"] == article_id}


def test_first_ingest_indexes_every_article_with_its_metadata(ingestor, corpus):
    summary = ingestor.ingest_paths([corpus])
    assert summary.failures == []
    assert summary.articles.model_dump() == {"new": 5, "updated": 0, "unchanged": 0, "removed": 0, "failed": 0}
    assert summary.chunks.embedded == summary.chunks.total > 5
    assert_index_is_exactly(ingestor, current_articles([corpus]))

    store = open_store(ingestor)
    ferry = sorted((m for _, m, _ in store.iter_chunks(where={"article_id": "https://herald.example/ferry"})),
                   key=lambda m: m["chunk_index"])
    assert len(ferry) >= 2
    article_text, article_meta = store.get_article_text("https://herald.example/ferry")
    for meta in ferry:
        assert set(meta) == {"article_id", "article_hash", "chunk_count", "title", "source", "author", "url",
                             "published", "published_day", "year", "source_file", "chunk_index", "start",
                             "end", "sentences"}
        assert (meta["title"], meta["source"], meta["author"]) == ("Ferry returns", "Coastal Herald", "Ana Ruiz")
        assert (meta["published"], meta["year"], meta["source_file"]) == ("2023-03-14", 2023, "corpus/ferry.txt")
        assert meta["published_day"] == 738593
        passage = article_text[meta["start"]:meta["end"]]
        for span in meta["sentences"].split(";"):
            start, end = map(int, span.split(":"))
            assert passage[start:end].strip() == passage[start:end] != ""
    assert article_meta["article_hash"] == ferry[0]["article_hash"]
    [(_, storm, document)] = store.iter_chunks(include=("metadatas", "documents"),
                                               where={"article_id": "corpus/sub/storm.md"})
    assert (storm["source"], storm["year"], storm["year_only"], document) == ("Gazette", 2021, 2021,
                                                                             "Schools closed on Friday.")


def test_unchanged_reingest_embeds_nothing_and_keeps_the_index_version(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    version = open_store(ingestor).index_version
    summary = ingestor.ingest_paths([corpus])
    assert summary.articles.unchanged == 5
    assert (summary.articles.new, summary.articles.updated, summary.chunks.embedded, summary.chunks.deleted) == (0,) * 4
    assert open_store(ingestor).index_version == version, "nothing changed: derived indexes stay valid"
    assert open_store(ingestor).last_ingest


def test_editing_one_article_reembeds_only_that_article(ingestor, corpus):
    first = ingestor.ingest_paths([corpus])
    before_budget = chunk_ids_of(ingestor, "corpus/budget.txt")
    before_ferry = chunk_ids_of(ingestor, "https://herald.example/ferry")
    version = open_store(ingestor).index_version
    path = corpus / "ferry.txt"
    path.write_text(path.read_text().replace("Paragraph 3:", "Paragraph three:"))

    summary = ingestor.ingest_paths([corpus])
    after_ferry = chunk_ids_of(ingestor, "https://herald.example/ferry")
    assert (summary.articles.updated, summary.articles.unchanged, summary.articles.new) == (1, 4, 0)
    assert summary.chunks.embedded == len(after_ferry)
    assert summary.chunks.deleted == len(before_ferry)
    assert summary.chunks.total == first.chunks.total
    assert not before_ferry & after_ferry
    assert chunk_ids_of(ingestor, "corpus/budget.txt") == before_budget
    assert open_store(ingestor).index_version != version
    assert "Paragraph three:" in open_store(ingestor).get_article_text("https://herald.example/ferry")[0]
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_deleted_files_stay_without_prune_and_go_with_it(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    (corpus / "budget.txt").unlink()
    (corpus / "wire.jsonl").write_text('{"id": "w1", "title": "Rates rise", "body": "The bank raised rates.", '
                                       '"source": "Wire"}\n')
    kept = ingestor.ingest_paths([corpus])
    assert kept.articles.removed == 0 and kept.chunks.deleted == 0
    assert chunk_ids_of(ingestor, "corpus/budget.txt")

    summary = ingestor.ingest_paths([corpus], prune=True)
    assert summary.articles.removed == 2
    assert summary.chunks.deleted == 2
    assert not chunk_ids_of(ingestor, "corpus/budget.txt") and not chunk_ids_of(ingestor, "w2")
    store = open_store(ingestor)
    assert store.get_article_text("corpus/budget.txt") is None and store.get_article_text("w2") is None
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_prune_leaves_other_roots_alone(ingestor, corpus, tmp_path):
    other = tmp_path / "elsewhere" / "other"
    write_article(other, "x.txt", "Other root", "A story from another folder.")
    ingestor.ingest_paths([corpus, other])
    (corpus / "budget.txt").unlink()
    summary = ingestor.ingest_paths([corpus], prune=True)
    assert summary.articles.removed == 1
    assert chunk_ids_of(ingestor, "other/x.txt")


def test_a_file_that_fails_to_parse_keeps_its_articles_under_prune(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    (corpus / "wire.jsonl").write_text('{"id": "w1", "title": "Rates rise", "body": "The bank raised rates."}\n'
                                       "{broken\n")
    summary = ingestor.ingest_paths([corpus], prune=True)
    assert [f.error for f in summary.failures] == ["line 2: malformed JSON: Expecting property name enclosed in "
                                                  "double quotes"]
    assert summary.articles.removed == 0
    assert chunk_ids_of(ingestor, "w2"), "a half-readable file is no evidence that its articles are gone"


def test_moving_the_folder_keeps_ids(ingestor, corpus, tmp_path):
    first = ingestor.ingest_paths([corpus])
    moved = tmp_path / "somewhere" / "else" / "corpus"
    moved.parent.mkdir(parents=True)
    shutil.move(corpus, moved)
    summary = ingestor.ingest_paths([moved], prune=True)
    assert summary.articles.unchanged == 5
    assert summary.chunks.embedded == summary.chunks.deleted == summary.articles.removed == 0
    assert summary.chunks.total == first.chunks.total
    assert_index_is_exactly(ingestor, current_articles([moved]))


def test_renaming_a_file_whose_article_has_a_url_relabels_without_embedding(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    (corpus / "ferry.txt").rename(corpus / "ferry-2023.txt")
    summary = ingestor.ingest_paths([corpus], prune=True)
    assert summary.articles.unchanged == 5 and summary.articles.removed == 0
    assert summary.chunks.embedded == 0
    sources = {m["source_file"] for _, m, _ in open_store(ingestor).iter_chunks(
        where={"article_id": "https://herald.example/ferry"})}
    assert sources == {"corpus/ferry-2023.txt"}
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_rebuild_starts_over(ingestor, corpus):
    first = ingestor.ingest_paths([corpus])
    version = open_store(ingestor).index_version
    summary = ingestor.ingest_paths([corpus], rebuild=True)
    assert summary.articles.new == 5 and summary.chunks.embedded == first.chunks.total == summary.chunks.total
    assert open_store(ingestor).index_version != version
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_bad_files_are_reported_and_the_rest_indexed(ingestor, corpus):
    (corpus / "latin1.txt").write_bytes("Caf\xe9\nBody\n".encode("latin-1"))
    (corpus / "empty.md").write_text("")
    (corpus / "broken.json").write_text('{"title": ')
    (corpus / "photo.html").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    summary = ingestor.ingest_paths([corpus])
    reasons = {Path(f.path).name: f.error for f in summary.failures}
    assert set(reasons) == {"latin1.txt", "empty.md", "broken.json", "photo.html"}
    assert reasons["latin1.txt"].startswith("not UTF-8 text")
    assert reasons["empty.md"] == "empty file"
    assert reasons["broken.json"].startswith("malformed JSON")
    assert reasons["photo.html"] == "binary file, not text"
    assert all(Path(f.path).is_absolute() for f in summary.failures)
    assert summary.articles.failed == 4 and summary.articles.new == 5
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_two_files_with_the_same_article_id_keep_the_first(ingestor, corpus):
    write_article(corpus, "zz-copy.txt", "Copy", "Same url, other file.", url="https://herald.example/ferry")
    summary = ingestor.ingest_paths([corpus])
    [failure] = summary.failures
    assert "duplicate article id 'https://herald.example/ferry'" in failure.error
    assert failure.path == "corpus/zz-copy.txt"
    articles = [a for a in current_articles([corpus]) if a.source_file != "corpus/zz-copy.txt"]
    assert_index_is_exactly(ingestor, articles)


def test_missing_path_is_a_usage_error(ingestor, tmp_path):
    with pytest.raises(UsageError, match="no such file or folder"):
        ingestor.ingest_paths([tmp_path / "nope"])


def test_changing_chunk_settings_reembeds_everything(settings, embedder, corpus):
    Ingestor(settings, embedder).ingest_paths([corpus])
    smaller = Ingestor(settings.model_copy(update={"chunk_tokens": 40, "chunk_overlap_tokens": 8}), embedder)
    summary = smaller.ingest_paths([corpus])
    assert summary.articles.updated == 5
    assert_index_is_exactly(smaller, current_articles([corpus]))


# -- what a killed run can leave behind -------------------------------------------------

def test_half_written_article_gets_only_its_missing_chunks(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    ferry = sorted(chunk_ids_of(ingestor, "https://herald.example/ferry"))
    open_store(ingestor).delete(ferry[1:])
    summary = ingestor.ingest_paths([corpus])
    assert summary.chunks.embedded == len(ferry) - 1
    assert summary.articles.new == 1 and summary.articles.unchanged == 4
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_old_and_new_versions_side_by_side_are_resolved(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    old_ids = chunk_ids_of(ingestor, "corpus/budget.txt")
    store = open_store(ingestor)
    leftovers = store.get_chunks(sorted(old_ids))
    (corpus / "budget.txt").write_text("Council passes budget\nThe council passed the budget 8-1 on Monday.\n")
    ingestor.ingest_paths([corpus])
    # As if the run had been killed after writing the new version and before deleting the old one:
    stale = {cid.replace(cid.split(":")[1], "f" * 16): (doc, {**meta, "article_hash": "f" * 64})
             for cid, (doc, meta) in leftovers.items()}
    store.upsert(list(stale), [[0.1] * 384] * len(stale), [d for d, _ in stale.values()],
                 [m for _, m in stale.values()])
    summary = ingestor.ingest_paths([corpus])
    assert summary.chunks.embedded == 0 and summary.chunks.deleted == len(stale)
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_missing_or_orphaned_article_texts_are_repaired(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    store = open_store(ingestor)
    store.delete_articles(["corpus/budget.txt"])
    store.put_article("ghost", "A text whose chunks are gone.", {"article_id": "ghost", "article_hash": "x"},
                      [1.0] + [0.0] * 383)
    summary = ingestor.ingest_paths([corpus])
    assert summary.chunks.embedded == 0
    text, meta = open_store(ingestor).get_article_text("corpus/budget.txt")
    assert text == "The council passed the budget 7-2 on Monday."
    assert open_store(ingestor).get_article_text("ghost") is None
    assert_index_is_exactly(ingestor, current_articles([corpus]))


# -- the embedding model recorded on the index ---------------------------------------------

def test_an_index_built_with_another_model_asks_for_rebuild(ingestor, corpus):
    ingestor.ingest_paths([corpus])
    store = open_store(ingestor)
    metadata = {k: v for k, v in store._fresh_metadata().items() if not k.startswith("hnsw:")}
    store._chunks.modify(metadata={**metadata, "embedding_model": "some-other-model", "embedding_dimension": 768})
    with pytest.raises(ModelMismatch, match=r"some-other-model.*run `newsdesk ingest --rebuild`"):
        ingestor.ingest_paths([corpus])
    summary = ingestor.ingest_paths([corpus], rebuild=True)
    assert summary.articles.new == 5
    assert_index_is_exactly(ingestor, current_articles([corpus]))


def test_chunk_ids_are_deterministic():
    assert chunk_id("a", "0123456789abcdef0000", 2) == chunk_id("a", "0123456789abcdef9999", 2)
    assert chunk_id("a", "0123456789abcdef", 2) != chunk_id("b", "0123456789abcdef", 2)
