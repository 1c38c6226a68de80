"""Answerers: citations valid by construction, and the LLM path against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections.abc import Callable

import pytest
from aiohttp import web
from hypothesis import given, settings as hypothesis_settings, strategies as st

from conftest import SEED_ID, SEEDS
from newsdesk.answering import Evidence, ExtractiveAnswerer, Passage, validate_citations
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


# -- refusals: the names a question gives must be the answer's -------------------------------

ARCHIVE_BACKGROUND = [
    "Storm Isolde brought heavy rain to the coast. Gusts of wind brought trees down.",
    "Storm Magnus closed schools across the region for two days.",
    "Waiting times at Calton General Hospital rose again, the department said.",
    "Staff at Ostholm General Hospital say they are coping with the winter.",
    "The walkout at Redmoor Steel ended after pay talks.",
    "The trial of a former minister opened in the capital; the judge warned the jury.",
    "The court heard that the company had been warned twice.",
    "The council approved a new budget for road repairs on Monday.",
    "Shares rose sharply in early trading after the results were published.",
    "Police appealed for witnesses after the crash.",
]


def news_passage(n: int, text: str, title: str, source: str = "Valley Post") -> Passage:
    """A retrieved passage as the engine hands it over: sentence spans, title, outlet."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S[^.!?]*[.!?]", text)]
    metadata = {"article_id": f"article-{n}", "title": title, "source": source,
                "sentences": ";".join(f"{start}:{end}" for start, end in spans)}
    return Passage.from_chunk(n, f"chunk-{n}", text, metadata, 1.0 / n, 0.6)


def archive_idf(passages: list[Passage]) -> Callable[[str], float]:
    """BM25's idf over the passages plus other articles of a small archive."""
    from newsdesk.retrieval import tokenize

    documents = [set(tokenize(f"{p.metadata['title']} {p.text}")) for p in passages]
    documents += [set(tokenize(text)) for text in ARCHIVE_BACKGROUND]
    size = len(documents)

    def idf(term: str) -> float:
        df = sum(term in document for document in documents)
        return math.log(1 + (size - df + 0.5) / (df + 0.5))
    return idf


def ask_extractive(question: str, passages: list[Passage], **options):
    return ExtractiveAnswerer(refusal_threshold=0.30).answer(question, passages, idf=archive_idf(passages),
                                                             **options)


HOSPITAL = [
    news_passage(1, "Dr Farid Irvingwell, who heads the orthopaedics department at Dunstead General "
                    "Hospital, said staff were coping. Some patients were sent on to Dunridge General "
                    "Hospital.",
                 "Hospitals under strain"),
    news_passage(2, "Dunridge General Hospital will open a new maternity ward next year. The ward will have "
                    "forty beds.", "Dunridge plans new ward"),
]
WALKOUT = [
    news_passage(1, "The walkout at Juniper Airlines is due to begin on 1 October. Pilots voted for the "
                    "action last month.", "Union escalates dispute with Juniper Airlines"),
    news_passage(2, "Juniper Logistics opened a new depot near the port. The company employs 900 people.",
                 "Juniper Logistics expands"),
]
TRIAL = [news_passage(1, "Judge Yara Quartson presided over the trial of Priya Quartova. The jury retired on "
                         "Friday.", "Priya Quartova trial ends")]


@pytest.mark.parametrize("passages, asked_about_rival, asked_about_name, answer", [
    (HOSPITAL, "Who heads the orthopaedics department at Dunridge General Hospital?",
     "Who heads the orthopaedics department at Dunstead General Hospital?", "Farid Irvingwell"),
    (WALKOUT, "On what date will the walkout at Juniper Logistics start?",
     "On what date will the walkout at Juniper Airlines start?", "1 October"),
    (TRIAL, "Who was the judge at Priya Reinfield's trial?",
     "Who was the judge at Priya Quartova's trial?", "Yara Quartson"),
])
def test_a_sentence_naming_a_rival_in_the_names_place_is_refused(passages, asked_about_rival,
                                                                  asked_about_name, answer):
    """The right relation about another hospital, company or person is not the answer; asked
    about the one the sentence names, the same sentence answers."""
    refused = ask_extractive(asked_about_rival, passages)
    assert refused.refused and refused.answer == REFUSAL and refused.citations == []
    assert refused.evidence.rivalled_names > 0.5
    answered = ask_extractive(asked_about_name, passages)
    assert not answered.refused and answer in answered.answer
    assert answered.evidence.rivalled_names == 0.0


def test_an_answer_does_not_quote_a_rivals_sentence_beside_the_right_one():
    """Asked about Thornport's oncology head, the Thornport sentence is the answer; the head of
    oncology at Ostholm General Hospital, a rival of the name asked about, is not quoted with it."""
    passages = [
        news_passage(1, "Dr Lena Marsh heads oncology at Thornport General Hospital. Thornport General "
                        "Hospital treated 645 patients last month.", "Thornport General Hospital expands"),
        news_passage(2, "Dr Kaori Fairski, who heads the oncology department at Ostholm General Hospital, "
                        "said staff were coping.", "Ostholm General Hospital under strain"),
    ]
    draft = ask_extractive("Who heads the oncology department at Thornport General Hospital?", passages)
    assert not draft.refused and "Lena Marsh" in draft.answer
    assert "Fairski" not in draft.answer and [c.chunk_id for c in draft.citations] == ["chunk-1"]


HOSPITAL_FIGURES = [
    news_passage(1, "Dalvik General Hospital treated 637 patients for heatstroke last month. Staff said the "
                    "wards were full.", "Dalvik General Hospital under strain"),
    news_passage(2, "Ashbrook General Hospital treated 166 patients for pneumonia last month.",
                 "Ashbrook General Hospital under strain"),
]


def test_the_asked_relation_held_only_by_a_rival_is_refused():
    """The archive has Dalvik's heatstroke figure and Ashbrook's pneumonia figure, not Dalvik's
    pneumonia figure: quoting Dalvik's heatstroke patients would be a wrong answer."""
    refused = ask_extractive("How many pneumonia patients were treated at Dalvik General Hospital?",
                             HOSPITAL_FIGURES)
    assert refused.refused and refused.evidence.rival_relation > 0.3
    for question, figure in [("How many heatstroke patients were treated at Dalvik General Hospital?", "637"),
                             ("How many pneumonia patients were treated at Ashbrook General Hospital?", "166")]:
        answered = ask_extractive(question, HOSPITAL_FIGURES)
        assert not answered.refused and figure in answered.answer
        assert answered.evidence.rival_relation == 0.0


def test_when_the_question_says_when_the_relation_still_weighs_in_full():
    """"last month" says when, not what: asked for Dalvik's pneumonia patients last month, the
    missing "pneumonia" weighs what it weighs without the date, and the answer is refused."""
    figures = HOSPITAL_FIGURES
    asked = "How many patients with pneumonia did Dalvik General Hospital treat last month?"
    undated = "How many patients with pneumonia did Dalvik General Hospital treat?"
    refused = ask_extractive(asked, figures)
    assert refused.refused
    undated_relation = ask_extractive(undated, figures).evidence.rival_relation
    assert refused.evidence.rival_relation == pytest.approx(undated_relation)
    heatstroke = "How many patients with heatstroke did Dalvik General Hospital treat last month?"
    answered = ask_extractive(heatstroke, figures)
    assert not answered.refused and "637" in answered.answer


LYME_FIGURES = [
    news_passage(n, f"{hospital} General Hospital treated {figure} patients for Lyme disease last month.",
                 "Hospital under strain")
    for n, (hospital, figure) in enumerate([("Rosstead", "1,901"), ("Bramwick", "4,099"), ("Calwick", "1,983")],
                                           start=1)
] + [
    news_passage(4, "Doctors warned that cases usually peak in early summer. Kirkwick General Hospital "
                    "treated 2,185 patients for Lyme disease last month.",
                 "Lyme disease cases rise in Kirkwick"),
]
GRANTS = [
    news_passage(n, f"The work on a new antibiotic compound in soil at the University of {place} received a "
                    f"grant of {n + 20} million pounds.", "Breakthrough claimed")
    for n, place in enumerate(["Bramworth", "Fenstead", "Ostbrook", "Marwick"], start=1)
] + [
    news_passage(5, "Researchers say they have found a new antibiotic compound in soil. The work on a new "
                    "antibiotic compound in soil at the University of Bramstead received a grant of 16 "
                    "million euros.", "Scientists publish results"),
]


@pytest.mark.parametrize("question, passages, answer, cited", [
    ("How many Lyme disease patients were treated at Kirkwick General Hospital?", LYME_FIGURES, "2,185",
     "chunk-4"),
    ("What was the grant for the Bramstead research on a new antibiotic compound in soil?", GRANTS,
     "16 million euros", "chunk-5"),
])
def test_the_sentence_about_the_name_asked_for_beats_a_rivals_from_a_better_ranked_passage(
        question, passages, answer, cited):
    """The same relation about another hospital or university, from a passage ranked higher, is
    someone else's answer; the one about the name asked for is quoted, even from further down."""
    draft = ask_extractive(question, passages)
    assert not draft.refused and answer in draft.answer
    assert draft.citations[0].chunk_id == cited


def test_who_scored_when_one_side_beat_the_other_quotes_the_scorer():
    passages = [news_passage(1, "Corport City and Yarmere Athletic met on Tuesday in a match both sides badly "
                                "needed to win. Walter Goldez scored the winning goal as Corport City beat "
                                "Yarmere Athletic 2-1.", "Late drama as Corport City meet Yarmere Athletic")]
    draft = ask_extractive("Who scored the winner when Corport City beat Yarmere Athletic?", passages)
    assert not draft.refused and "Walter Goldez" in draft.answer


STORM = [
    news_passage(1, "Storm Elspeth brought wind gusts of up to 90 kilometres per hour to Zelmoor. Trees fell "
                    "across several roads.", "Storm Elspeth batters Zelmoor"),
    news_passage(2, "Harmoor council approved a new budget for the library on Tuesday. The vote was close.",
                 "Harmoor library budget"),
]


def test_an_answer_whose_passage_never_names_the_place_asked_about_is_refused():
    """Harmoor is in the archive, but not in the passage that has the gusts: that is Zelmoor's storm."""
    refused = ask_extractive("How strong were the wind gusts in Harmoor during Storm Elspeth?", STORM)
    assert refused.refused
    assert refused.evidence.missing_names == 0.0 and refused.evidence.unsupported_names > 0.3
    answered = ask_extractive("How strong were the wind gusts in Zelmoor during Storm Elspeth?", STORM)
    assert not answered.refused and "90 kilometres per hour" in answered.answer


def test_after_an_event_is_still_a_simple_question():
    """"after the storm" is not a second report: the passage must still name the town asked about."""
    refused = ask_extractive("How strong were the wind gusts in Harmoor after Storm Elspeth arrived?", STORM)
    assert refused.refused and not refused.evidence.compound


def test_a_name_mentioned_in_part_supports_the_answer():
    """News names a person in full once, then by surname; another Sam in the passage is no rival."""
    passages = [news_passage(1, "Bankman-Fried told the court he had made mistakes but never meant to "
                                "defraud anyone. Sam Altman was not among the witnesses.",
                             "Crypto founder testifies in his own defence", source="TechCrunch")]
    draft = ask_extractive("What did Sam Bankman-Fried tell the court?", passages)
    assert not draft.refused and "made mistakes" in draft.answer
    assert draft.evidence.missing_names == draft.evidence.unsupported_names == 0.0


def test_the_outlet_a_question_names_is_not_a_name_the_answer_must_hold():
    passages = [news_passage(1, "More than 3,000 Russians crossed the border at Altanbulag on Sunday, the "
                                "head of the checkpoint said.", "Russians flee to Mongolia",
                             source="The Sydney Morning Herald")]
    draft = ask_extractive("According to The Sydney Morning Herald, how many Russians crossed at Altanbulag?",
                           passages)
    assert not draft.refused and "3,000" in draft.answer
    assert draft.evidence.missing_names == draft.evidence.unsupported_names == 0.0


EPIC_AND_PUBLISHER = [
    news_passage(1, "Epic Games won its antitrust case against Google in December, a jury found.",
                 "Epic wins against Google", source="The Verge"),
    news_passage(2, "Helena World Chronicle filed a class action antitrust suit against Google, saying it "
                    "siphons off readers.", "Publisher sues Google", source="TechCrunch"),
]


def test_a_compound_question_may_take_its_names_from_several_articles():
    """Each report the question joins is its own article, so one passage need not hold every name;
    a simple question about the same names must find them together."""
    compound = ask_extractive("Did The Verge report that Epic Games beat Google while TechCrunch reported "
                              "that Helena World Chronicle sued Google?", EPIC_AND_PUBLISHER,
                              per_source=("TechCrunch", "The Verge"))
    assert not compound.refused and {c.n for c in compound.citations} == {1, 2}
    assert compound.evidence.unsupported_names == 0.0
    simple = ask_extractive("Did Epic Games beat Google in the suit Helena World Chronicle brought?",
                            EPIC_AND_PUBLISHER)
    assert simple.refused and simple.evidence.unsupported_names > 0.3


def test_a_compound_question_is_held_to_a_lower_threshold_than_a_simple_one():
    # Each sentence of a comparison answers one part, so its best sentence covers less.
    signals = dict(sentence_coverage=0.2, passage_coverage=0.2, union_coverage=0.2, dense=0.37, missing_names=0.0)
    simple, compound = Evidence(**signals), Evidence(**signals, compound=True)
    assert simple.score == compound.score
    assert simple.score < simple.threshold(0.30)
    assert compound.score >= compound.threshold(0.30)


@pytest.mark.parametrize("question, wanted, unwanted", [
    ("Which researcher headed the Kesdale study on a new antibiotic compound in soil?", "Ivy Zornman",
     "Researchers at the University of Kesdale say"),
    ("What is the budget for the new flood barrier in Harstead?", "63 million euros", "scheduled to open"),
    ("How many homes in Caldale lost power during Storm Petra?", "33,072", "kilometres per hour"),
])
def test_the_sentence_holding_the_kind_of_answer_asked_for_is_chosen(question, wanted, unwanted):
    """The sentence with the most of the question's words is not the answer when it lacks a name
    for "which researcher", a sum for "what budget", a count for "how many homes"."""
    passages = [
        news_passage(1, "Researchers at the University of Kesdale say they have found a new antibiotic "
                        "compound in soil. The team that found it was led by Ivy Zornman of the University "
                        "of Kesdale.", "Kesdale researchers find new antibiotic compound in soil"),
        news_passage(2, "The new flood barrier in Harstead is scheduled to open on 20 December, officials "
                        "said. Councillors in Harstead voted to spend 63 million euros on the new flood "
                        "barrier.", "Harstead flood barrier approved"),
        news_passage(3, "Storm Petra brought wind gusts of up to 170 kilometres per hour to Caldale. Officials "
                        "said 33,072 homes in Caldale lost power during Storm Petra.", "Storm Petra hits Caldale"),
    ]
    draft = ask_extractive(question, passages)
    assert not draft.refused
    first_sentence = re.split(r" \[\d\]", draft.answer)[0]
    assert wanted in first_sentence and unwanted not in first_sentence


@pytest.mark.parametrize("question, title, text, wanted", [
    ("How many awards did Hamilton win at the ceremony?", "Hamilton sweeps the awards",
     "Hamilton won 11 Tony Awards at the ceremony. The ceremony in New York drew 6,000 guests.", "11 Tony Awards"),
    ("How much did Juniper Rovers pay to sign the striker?", "Juniper Rovers sign a striker",
     "Juniper Rovers paid a million dollars to sign the striker. Fans paid $40 each to watch the striker's first "
     "match for Juniper Rovers.", "a million dollars"),
])
def test_the_answer_sentence_leads_when_its_count_or_sum_is_worded_plainly(question, title, text, wanted):
    """"11 Tony Awards" is a count (not 11 tons), "a million dollars" a sum of money: the sentence
    that says them is the answer, not a neighbour with some other figure."""
    draft = ask_extractive(question, [news_passage(1, text, title)])
    assert not draft.refused
    assert wanted in re.split(r" \[\d\]", draft.answer)[0]
    assert not draft.evidence.shape_missing


def test_a_question_about_a_bill_before_parliament_does_not_want_a_sum_of_money():
    passages = [news_passage(1, "The plastics bill would ban single-use cups and cutlery across Valdoria from next "
                                "spring. Ministers said shops would have a year to adapt.",
                             "Valdoria publishes plastics bill")]
    draft = ask_extractive("What is the plastics bill in Valdoria?", passages)
    assert not draft.refused and "ban single-use cups" in draft.answer
    assert not draft.evidence.shape_missing


def test_a_weekday_beside_a_short_name_is_no_rival():
    """"On Tuesday Juniper said" speaks of Juniper Logistics, named in full just before; "Tuesday
    Juniper" is not another company."""
    passages = [news_passage(1, "Juniper Logistics opened a depot near the port. On Tuesday Juniper said it would "
                                "hire 200 drivers.", "Juniper Logistics expands")]
    draft = ask_extractive("How many drivers will Juniper Logistics hire?", passages)
    assert not draft.refused and "200 drivers" in draft.answer
    assert draft.evidence.rivalled_names == 0.0
