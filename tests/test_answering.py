"""Answerers: citations valid by construction, and the LLM path against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable

import pytest
from aiohttp import web
from hypothesis import given, settings as hypothesis_settings, strategies as st

from conftest import SEED_ID, SEEDS
from newsdesk.answering import ExtractiveAnswerer, Passage, validate_citations
from newsdesk.config import load_settings
from newsdesk.engine import Engine
from newsdesk.ingestion import Ingestor
from newsdesk.results import REFUSAL

MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def seed_data_dir(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("data")
    Ingestor(load_settings(data_dir=data_dir, env_file=None), embedder=embedder).ingest_paths([SEEDS])
    return data_dir


@pytest.fixture(scope="module")
def seed_passages(seed_data_dir, embedder) -> list[Passage]:
    engine = Engine(load_settings(data_dir=seed_data_dir, env_file=None), embedder=embedder)
    chunks = list(engine.store.iter_chunks(include=("metadatas", "documents")))
    return [Passage.from_chunk(i + 1, cid, text, meta, 1.0 / (i + 1), 0.5)
            for i, (cid, meta, text) in enumerate(chunks)]


# -- citations valid by construction -----------------------------------------------------

reply_parts = st.lists(st.one_of(
    st.text(alphabet="abcdefghij ,.", min_size=0, max_size=12),
    st.integers(min_value=0, max_value=12).map(lambda n: f"[{n}]"),
    st.lists(st.integers(min_value=1, max_value=12), min_size=2, max_size=3).map(
        lambda ns: "[" + ", ".join(map(str, ns)) + "]"),
), max_size=12)


@hypothesis_settings(max_examples=300, deadline=None)
@given(parts=reply_parts, given_count=st.integers(min_value=1, max_value=4))
def test_llm_markers_always_map_to_given_passages(seed_passages, parts, given_count):
    passages = seed_passages[:given_count]
    reply = "".join(parts)
    text, citations, invalid = validate_citations(reply, passages)
    numbers = [int(n) for n in MARKER.findall(text)]
    assert sorted(set(numbers)) == [c.n for c in citations] == list(range(1, len(citations) + 1))
    real_texts = {p.text for p in passages}
    assert all(c.text in real_texts for c in citations)
    written = [int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", reply) for n in group.split(",")]
    assert invalid == sum(1 for n in written if not 1 <= n <= len(passages))


@hypothesis_settings(max_examples=60, deadline=None)
@given(order=st.permutations(range(4)), count=st.integers(min_value=1, max_value=4),
       question=st.sampled_from(["how many crossed at Altanbulag?", "Who urged Putin to end the conflict?",
                                 "What stance has the Mongolian government taken?", "border length"]))
def test_extractive_answers_cite_only_passages_given(seed_passages, order, count, question):
    passages = [seed_passages[i] for i in order if i < len(seed_passages)][:count]
    renumbered = [Passage(n + 1, p.chunk_id, p.article_id, p.text, p.metadata, p.score, p.dense, p.sentences)
                  for n, p in enumerate(passages)]
    draft = ExtractiveAnswerer(refusal_threshold=0.0).answer(question, renumbered)
    numbers = [int(n) for n in MARKER.findall(draft.answer)]
    assert sorted(set(numbers)) == [c.n for c in draft.citations]
    given_chunks = {p.chunk_id: p.text for p in renumbered}
    for citation in draft.citations:
        assert given_chunks[citation.chunk_id] == citation.text
        assert citation.quote and citation.quote in " ".join(citation.text.split()) or citation.quote in citation.text


# -- the LLM path, against a loopback OpenAI-compatible server ------------------------------

class FakeOpenAI:
    """Speaks POST /v1/chat/completions like OpenAI; each test says how it should answer."""

    def __init__(self):
        self.reply: Callable[[dict], tuple[int, str]] = lambda body: (200, "")
        self.requests: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.release = asyncio.Event()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        status, content = self.reply(body)
        if status == 0:  # hang until the test is over
            await self.release.wait()
            status = 200
        if status != 200:
            return web.json_response({"error": {"message": "server exploded", "type": "server_error"}},
                                     status=status)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        })

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.release.set)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def fake_llm():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def llm_engine(seed_data_dir, embedder, fake_llm) -> Engine:
    settings = load_settings(data_dir=seed_data_dir, env_file=None, answerer="llm",
                             llm_base_url=f"http://127.0.0.1:{fake_llm.port}/v1", llm_model="fake-model",
                             llm_timeout_seconds=1.0)
    return Engine(settings, embedder=embedder)


def passage_with(body: dict, needle: str) -> int:
    """The number the prompt gave the passage containing `needle`."""
    prompt = body["messages"][-1]["content"]
    for block in prompt.split("\n\n["):
        match = re.match(r"\[?(\d+)\]", block)
        if match and needle in block:
            return int(match.group(1))
    raise AssertionError(f"{needle!r} not in the prompt")


def test_llm_good_reply_keeps_its_citations(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (200, f"More than 3,000 Russians crossed at Altanbulag "
                                        f"[{passage_with(body, 'Altanbulag')}].")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.answerer == "llm:fake-model"
    assert not result.refused
    assert result.answer == "More than 3,000 Russians crossed at Altanbulag [1]."
    assert [c.n for c in result.citations] == [1]
    assert "Altanbulag" in result.citations[0].text and result.citations[0].article_id == SEED_ID
    prompt = fake_llm.requests[-1]["messages"]
    assert "[n]" in prompt[0]["content"] or "[1]" in prompt[0]["content"]
    assert "Question: how many crossed at Altanbulag?" in prompt[-1]["content"]


def test_llm_invented_marker_is_removed_and_counted(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (200, f"More than 3,000 crossed [{passage_with(body, 'Altanbulag')}][9].")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.answer == "More than 3,000 crossed [1]."
    assert len(result.citations) == 1
    assert "removed 1 invalid" in result.note


def test_llm_reply_without_citation_falls_back_to_extractive(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (200, "Lots of people crossed.")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.answerer == "extractive"
    assert "3,000" in result.answer and result.citations
    assert "cited no given passage" in result.note


def test_llm_refusal_is_a_refusal(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (200, "NOT_IN_ARCHIVE")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.refused and result.answer == REFUSAL and result.citations == []


def test_llm_timeout_falls_back_to_extractive(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (0, "")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.answerer == "extractive"
    assert "3,000" in result.answer
    assert "timed out" in result.note


def test_llm_http_500_falls_back_to_extractive(llm_engine, fake_llm):
    fake_llm.reply = lambda body: (500, "")
    result = llm_engine.ask("how many crossed at Altanbulag?")
    assert result.answerer == "extractive"
    assert "3,000" in result.answer
    assert "HTTP 500" in result.note


def test_llm_rewrites_follow_ups_into_stand_alone_questions(llm_engine, fake_llm):
    from newsdesk.results import Turn

    def reply(body):
        prompt = body["messages"][-1]["content"]
        if "Last question:" in prompt:
            return 200, "How far is Ulaanbaatar from the Altanbulag border crossing?"
        return 200, f"Over 350 kilometers [{passage_with(body, '350 kilometers')}]."
    fake_llm.reply = reply
    result = llm_engine.ask("and how far is that from the capital?",
                            [Turn(question="how many crossed at Altanbulag?", answer="More than 3,000 [1].")])
    assert result.search_query == "How far is Ulaanbaatar from the Altanbulag border crossing?"
    assert "350 kilometers" in result.citations[0].text
    json.loads(result.to_json())
