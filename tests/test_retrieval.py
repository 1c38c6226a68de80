"""Fusing the dense and the keyword ranking."""

from __future__ import annotations

import numpy as np

from newsdesk.retrieval import HybridRetriever, KeywordIndex


def keyword_index(chunk_ids: list[str]) -> KeywordIndex:
    size = len(chunk_ids)
    return KeywordIndex("v1", chunk_ids, [c.split(":")[0] for c in chunk_ids], ["AFP"] * size,
                        np.full(size, -1), np.full(size, -1), {})


def fused(dense_hits, keyword_hits) -> list[str]:
    ids = sorted({c for c, _ in dense_hits} | {c for c, _ in keyword_hits})
    retriever = HybridRetriever(store=None, embedder=None, index_dir=None)
    return [c.chunk_id for c in retriever.fuse(dense_hits, keyword_hits, keyword_index(ids))]


def test_a_wide_keyword_lead_on_a_rare_name_beats_chunks_both_lists_rank_middling():
    # "Langford" only in a:0, which dense search misses; b:0 sits mid-way in both lists.
    dense = [(f"d{i}:0", 0.70 - i * 0.01) for i in range(5)] + [("b:0", 0.65)] + \
        [(f"e{i}:0", 0.64 - i * 0.01) for i in range(5)]
    keyword = [("a:0", 20.0), ("b:0", 3.0), ("e0:0", 2.0)]
    ranking = fused(dense, keyword)
    assert ranking.index("a:0") < ranking.index("b:0")
    assert ranking.index("a:0") < 3


def test_agreement_of_both_lists_comes_first():
    dense = [("a:0", 0.8), ("b:0", 0.7), ("c:0", 0.6)]
    keyword = [("a:0", 9.0), ("c:0", 8.0), ("b:0", 1.0)]
    assert fused(dense, keyword) == ["a:0", "c:0", "b:0"]


def test_one_list_alone_keeps_its_order():
    assert fused([], [("a:0", 3.0), ("b:0", 2.0)]) == ["a:0", "b:0"]
    assert fused([("a:0", 0.5), ("b:0", 0.4)], []) == ["a:0", "b:0"]
    assert fused([("a:0", 0.5)], []) == ["a:0"]
