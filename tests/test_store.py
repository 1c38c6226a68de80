"""The Chroma store: one client factory, the recorded model, versions, paging, and a server that is down."""

from __future__ import annotations

import socket
import threading

import pytest

from ingest_support import free_port, make_settings
from newsdesk import store as store_module
from newsdesk.embedding import DIMENSION, MODEL_ID
from newsdesk.store import (ArticleState, ChunkStore, IndexMissing, ModelMismatch, StoreError, StoreUnavailable,
                            article_key, chunk_id, create_client)

UNIT = [1.0] + [0.0] * (DIMENSION - 1)


def open_new(settings, **kwargs) -> ChunkStore:
    return ChunkStore.open(settings, MODEL_ID, DIMENSION, create=True, **kwargs)


def add_chunks(store: ChunkStore, article_id: str, version: str, count: int, present: range | None = None) -> list[str]:
    ids = [chunk_id(article_id, version, i) for i in range(count)]
    keep = list(present if present is not None else range(count))
    store.upsert([ids[i] for i in keep], [UNIT] * len(keep), [f"chunk {i}" for i in keep],
                 [{"article_id": article_id, "article_hash": version, "chunk_count": count, "chunk_index": i,
                   "source_file": f"root/{article_id}.txt"} for i in keep])
    return ids


def test_a_new_index_records_model_space_and_version(settings):
    store = open_new(settings)
    metadata = store._fresh_metadata()
    assert metadata["embedding_model"] == MODEL_ID
    assert metadata["embedding_dimension"] == DIMENSION
    assert metadata["hnsw:space"] == "cosine"
    assert store.index_version and store.last_ingest is None
    assert (settings.data_dir / "chroma").is_dir()


def test_opening_without_an_index_says_to_ingest(settings):
    with pytest.raises(IndexMissing, match="run `newsdesk ingest PATH` first"):
        ChunkStore.open(settings, MODEL_ID, DIMENSION, create=False)
    create_client(settings)  # an empty store folder, still no collection
    with pytest.raises(IndexMissing):
        ChunkStore.open(settings, MODEL_ID, DIMENSION, create=False)


def test_another_model_is_refused_until_rebuild(settings):
    open_new(settings)
    with pytest.raises(ModelMismatch, match=r"all-MiniLM-L6-v2-onnx-int8 \(384 dimensions\), not other-model "
                                            r"\(768\); run `newsdesk ingest --rebuild`"):
        ChunkStore.open(settings, "other-model", 768, create=True)
    rebuilt = ChunkStore.open(settings, "other-model", 768, create=True, rebuild=True)
    assert rebuilt._fresh_metadata()["embedding_model"] == "other-model"


def test_bump_version_changes_the_version_only_when_asked(settings):
    store = open_new(settings)
    first = store.index_version
    assert store.bump_version() != first
    second = store.index_version
    store.bump_version(finished=True, changed=False)
    assert store.index_version == second and store.last_ingest
    assert store._fresh_metadata()["embedding_model"] == MODEL_ID, "bumping keeps the model record"


def test_article_states_tell_complete_versions_from_partial_ones(settings):
    store = open_new(settings)
    add_chunks(store, "a", "v1" * 8, 3)
    add_chunks(store, "a", "v2" * 8, 4, present=range(2))
    add_chunks(store, "b", "v3" * 8, 2, present=range(1))
    states = store.article_states()
    assert states["a"].complete_version() == "v1" * 8
    assert states["b"].complete_version() is None
    assert len(states["a"].all_ids()) == 5
    assert states["a"].source_file == "root/a.txt"
    assert ArticleState("c").complete_version() is None


def test_iter_chunks_pages_through_everything(settings, monkeypatch):
    monkeypatch.setattr(store_module, "GET_PAGE", 7)
    store = open_new(settings)
    ids = add_chunks(store, "a", "v" * 16, 30)
    seen = [cid for cid, _, _ in store.iter_chunks()]
    assert sorted(seen) == sorted(ids) and len(seen) == 30


def test_article_texts_round_trip(settings):
    store = open_new(settings)
    store.put_articles([("https://x.example/a", "Text A.", {"article_id": "https://x.example/a", "article_hash": "h1"},
                         UNIT), ("b", "Text B.", {"article_id": "b", "article_hash": "h2"}, UNIT)])
    assert store.get_article_text("https://x.example/a") == ("Text A.", {"article_id": "https://x.example/a",
                                                                         "article_hash": "h1"})
    assert store.article_text_versions() == {"https://x.example/a": "h1", "b": "h2"}
    store.delete_articles(["b"])
    assert store.get_article_text("b") is None and store.count_articles() == 1
    assert len(article_key("https://x.example/" + "very-long/" * 100)) == 16


def test_update_metadata_keeps_vectors(settings):
    store = open_new(settings)
    [cid] = add_chunks(store, "a", "v" * 16, 1)
    _, meta = store.get_chunks([cid])[cid]
    store.update_metadata({cid: {**meta, "source_file": "root/renamed.txt"}})
    assert store.get_chunks([cid])[cid][1]["source_file"] == "root/renamed.txt"
    assert store.get_embeddings([cid])[cid][0] == pytest.approx(1.0)


def test_unwritable_data_dir_is_a_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        create_client(make_settings(blocker / "data"))


# -- a server that is not there ----------------------------------------------------------

def test_a_server_that_is_down_is_named_with_host_and_port(tmp_path):
    port = free_port()
    settings = make_settings(tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreUnavailable, match=rf"cannot reach the Chroma server at http://127.0.0.1:{port} .*"
                                               r"Check CHROMA_HOST and CHROMA_PORT"):
        ChunkStore.open(settings, MODEL_ID, DIMENSION, create=True)


def test_a_server_that_accepts_but_never_answers_does_not_hang(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    settings = make_settings(tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port,
                             chroma_timeout_seconds=0.5)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            ChunkStore.open(settings, MODEL_ID, DIMENSION, create=True)
        except BaseException as exc:  # the assertion below says which
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=60)
    silent.close()
    assert not worker.is_alive(), "opening the store hung on a silent server"
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable)
    assert f"127.0.0.1:{port}" in str(outcome[0])
