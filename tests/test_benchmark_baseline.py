"""The plain llama-index baseline of benchmarks/: built offline with llama-index's defaults, scored alike."""

from __future__ import annotations

import socket
import sys

import pytest

from conftest import PROJECT_ROOT, SEED_ID, SEEDS
from newsdesk.articles import discover, parse_file
from newsdesk.evaluation import load_questions, evaluate

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from baseline import LlamaIndexBaseline  # noqa: E402


@pytest.fixture
def no_network(monkeypatch):
    """Any connection beyond the loopback fails loudly (a tiktoken or nltk download, an OpenAI call)."""
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in {"127.0.0.1", "::1", "localhost"} and self.family != socket.AF_UNIX:
            raise AssertionError(f"network access attempted: {address}")
        return real_connect(self, address)
    monkeypatch.setattr(socket.socket, "connect", connect)


def test_baseline_builds_offline_with_default_splitter_and_is_reused(tmp_path, embedder, no_network):
    files, _ = discover([SEEDS])
    articles = [a for f in files for a in parse_file(f)]
    baseline = LlamaIndexBaseline(tmp_path / "baseline", embedder).build(articles)
    # The whole seed article (about 700 tokens) fits one default 1,024-token chunk.
    assert baseline.chunks == 1
    result = baseline.ask("how many crossed at Altanbulag?")
    assert [r.article_id for r in result.retrieved] == [SEED_ID]
    assert "more than 3,000 Russians" in result.citations[0].text
    assert not result.refused

    again = LlamaIndexBaseline(tmp_path / "baseline", embedder).build(articles)
    assert again.chunks == 1
    assert again.ask("how many crossed at Altanbulag?").retrieved[0].chunk_id == result.retrieved[0].chunk_id


def test_baseline_is_scored_by_the_same_metrics(tmp_path, embedder, no_network):
    files, _ = discover([SEEDS])
    articles = [a for f in files for a in parse_file(f)]
    baseline = LlamaIndexBaseline(tmp_path / "baseline", embedder).build(articles)
    questions = load_questions(PROJECT_ROOT / "benchmarks" / "questions" / "seeds.jsonl")
    report = evaluate(questions, baseline.ask, system="plain llama-index")
    # One article in the archive: it always ranks first, and a baseline without refusals never refuses.
    assert report.overall.hits_at_1 == 1.0
    assert report.overall.refusal_rate == 0.0
    assert report.overall.unanswerable == 6
