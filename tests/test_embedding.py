"""The offline embedding model: pinned files, unit vectors, meaning, llama-index's interface, and no llama-index
import until that interface is asked for."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from newsdesk import embedding
from newsdesk.embedding import DIMENSION, MAX_TOKENS, MODEL_ID, EmbeddingModelError, MiniLMEmbedding, load_embedder


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(batch_size=4)


def test_vectors_are_unit_length_and_carry_meaning(embedder):
    texts = ["Russians fled across the border into Mongolia after the call-up.",
             "Men escaping conscription crossed into Mongolia.",
             "The central bank raised interest rates by half a point."]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > 0.5 > unrelated


def test_batching_and_padding_do_not_change_a_vector(embedder):
    texts = ["short", "a much longer sentence about floods in the valley and the rescue boats " * 3,
             "medium length text about elections", "x"] * 3
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts[:4]])
    assert np.allclose(together[:4], alone, atol=1e-4)


def test_on_batch_reports_every_text(embedder):
    seen: list[int] = []
    embedder.embed([f"text {i}" for i in range(10)], on_batch=seen.append)
    assert sum(seen) == 10 and max(seen) <= 4


def test_empty_input(embedder):
    assert embedder.embed([]).shape == (0, DIMENSION)
    assert embedder.count_tokens([]) == []


def test_token_counts_and_the_window(embedder):
    assert embedder.count_tokens(["Hello world", "Ulaanbaatar"]) == [2, len(embedder.token_offsets("Ulaanbaatar"))]
    long_text = "word " * 1000
    assert embedder.count_tokens([long_text]) == [1000], "counting never truncates"
    # The model itself sees at most 256 tokens: a text and its 256-token prefix embed alike.
    assert np.allclose(embedder.embed([long_text]), embedder.embed(["word " * (MAX_TOKENS - 2)]), atol=1e-5)


def test_the_llama_index_adapter_gives_the_embedders_own_vectors(embedder):
    from llama_index.core.base.embeddings.base import BaseEmbedding

    adapter = embedder.as_llama_index()
    assert isinstance(adapter, BaseEmbedding) and not isinstance(embedder, BaseEmbedding)
    assert adapter.embedder is embedder and adapter.model_name == embedder.model_name == MODEL_ID
    query = adapter.get_query_embedding("border crossing")
    text = adapter.get_text_embedding("border crossing")
    texts = ["border crossing", "the central bank raised rates", "floods"]
    batch = adapter.get_text_embedding_batch(texts)
    assert len(query) == DIMENSION
    assert query == text == embedder.embed(["border crossing"])[0].tolist()
    assert batch == embedder.embed(texts).tolist()


def test_importing_the_engine_does_not_import_llama_index():
    """llama-index-core costs about 2.4 s to import: no command should pay it unless it uses llama-index."""
    code = ("import sys, newsdesk.engine, newsdesk.ingestion, newsdesk.answering, newsdesk.cli, "
            "newsdesk.discord_bot.runner; print(sorted(m for m in sys.modules if m.startswith('llama_index')))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", done.stdout[:500]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="embed_batch_size must be at least 1"):
        MiniLMEmbedding(embed_batch_size=0)


def test_a_tampered_model_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr(embedding, "_model_path", lambda: fake)
    embedding._verified_files.cache_clear()
    try:
        with pytest.raises(EmbeddingModelError, match="does not match its pinned sha256"):
            load_embedder().embed(["x"])
    finally:
        embedding._verified_files.cache_clear()
