"""Fusing the dense and the keyword ranking."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, strategies as st

from newsdesk.retrieval import HybridRetriever, KeywordIndex, name_pairs, search_terms

from conftest import SAME_TOPIC


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



def ranked_hits(scores: dict[int, float]) -> list[tuple[str, float]]:
    return sorted(((f"a{i}:0", score) for i, score in scores.items()), key=lambda hit: -hit[1])


@given(st.dictionaries(st.integers(0, 15), st.floats(-1.0, 1.0, allow_nan=False), max_size=12),
       st.dictionaries(st.integers(0, 15), st.floats(0.01, 50.0, allow_nan=False), max_size=12))
def test_fusion_keeps_every_chunk_once_with_scores_in_order(similarities, bm25_scores):
    dense, keyword = ranked_hits(similarities), ranked_hits(bm25_scores)
    chunk_ids = sorted({c for c, _ in dense} | {c for c, _ in keyword})
    retriever = HybridRetriever(store=None, embedder=None, index_dir=None)
    ranked = retriever.fuse(dense, keyword, keyword_index(chunk_ids))
    assert sorted(c.chunk_id for c in ranked) == chunk_ids
    scores = [c.score for c in ranked]
    assert all(0.0 <= score <= 1.0 + 1e-9 for score in scores)
    assert scores == sorted(scores, reverse=True)
    if dense and keyword and dense[0][0] == keyword[0][0]:
        # First in both lists: nothing can score higher (ties aside).
        assert next(c for c in ranked if c.chunk_id == dense[0][0]).score == ranked[0].score


def test_name_pairs_join_neighbouring_words_of_a_name_and_nothing_across_sentences():
    assert name_pairs("Who led the University of Kesstead team?") == ["universiti~kesstead"]
    assert name_pairs("It was led by Anna Nordwood of the University of Kesstead. Isaac Ulfard said so.") == [
        "anna~nordwood", "universiti~kesstead", "isaac~ulfard"]
    assert name_pairs("What the Ingwood discovery means\nValley Post") == ["valley~post"]
    assert name_pairs("how many crossed at altanbulag?") == []


def test_a_whole_name_leads_the_keyword_ranking_over_its_words_scattered_over_same_topic_stories(
        same_topic_archive):
    question = f"Who led the University of Kesstead team that {SAME_TOPIC}?"
    keyword = same_topic_archive.retriever.keyword_index()
    hits = keyword.search(search_terms(question), 10, None)
    assert keyword.article_of(hits[0][0]) == "kesstead-enzyme"
    assert hits[0][1] > 1.2 * hits[1][1]


def test_a_keyword_index_saved_by_an_older_newsdesk_is_rebuilt_not_searched(same_topic_archive):
    engine = same_topic_archive
    engine.retriever.keyword_index()
    saved = engine.settings.keyword_index_dir / "meta.json"
    old = json.loads(saved.read_text())
    del old["format"]
    old["document_frequency"] = {t: n for t, n in old["document_frequency"].items() if "~" not in t}
    saved.write_text(json.dumps(old))

    restarted = HybridRetriever(engine.store, engine.embedder, engine.settings.keyword_index_dir)
    keyword = restarted.keyword_index()
    assert keyword.document_frequency.get("universiti~kesstead") == 1
    assert json.loads(saved.read_text())["format"] == KeywordIndex.FORMAT
