"""What both Discord suites share: a tiny real corpus, the real engine over it, and one engine
wrapper for answers longer than a Discord message (the extractive answerer keeps to three sentences)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from newsdesk.config import Settings
from newsdesk.engine import Engine
from newsdesk.ingestion import Ingestor
from newsdesk.results import AnswerResult, Citation, Turn

MONGOLIA = """\
---
title: Russians flee into Mongolia
source: AFP
published: 2022-09-28
url: https://example.org/mongolia
---
Thousands of Russians have crossed the border into Mongolia since the mobilisation order.
The border post at Altanbulag saw more than 3,000 arrivals on Sunday alone, officials said.
Many of the men said they did not want to fight in Ukraine.
"""

HARBOUR = """\
---
title: Harbour festival @everyone welcome
source: Coast Gazette
published: 2023-05-02
---
The harbour festival in Port Elsie opens on Friday with a lantern walk along the quay.
Organisers posted "@everyone is welcome, @here too" on the town board and said the fireworks start at nine.
The mayor, <@123456789012345678>, and the <@&234567890123456789> crew will light the first lantern.
"""

PARADE_SENTENCES = [
    "The glacier lantern parade in Zarnov drew a record crowd of about twelve thousand people on Saturday evening, "
    "according to the town council, which had expected barely half that number after a week of heavy snow.",
    "Volunteers carried more than four hundred paper lanterns along the frozen riverbank, and brass bands from "
    "six neighbouring villages played marching tunes that had not been heard in the valley for decades.",
    "Organisers said the route was extended by two kilometres this year so that the parade could pass the old "
    "salt warehouse, which reopened in the spring as a museum of mountain trades and crafts.",
    "Children handed out hot cider and honey cakes to visitors, many of whom had travelled from the coast on "
    "special trains that the regional railway added to its timetable for the weekend.",
    "The mayor thanked the volunteers and the mountain rescue teams, who had cleared the path of ice since "
    "Thursday, and said the council would discuss making the parade a two-night event next winter.",
    "Local hotels reported that every room in the valley was booked, and several farms opened their barns "
    "as makeshift hostels for walkers who arrived too late to find a bed in town.",
    "Police said the evening passed without serious incident, although two people were treated for mild "
    "frostbite and one lantern set fire to a hedge near the bridge before it was quickly put out.",
    "The parade ended at midnight at the foot of the glacier, where the lanterns were hung on a wooden "
    "frame built by carpenters from the school of crafts, forming the shape of a mountain goat.",
    "Shopkeepers on the main street said takings were higher than at any time since the ski season of "
    "2009, and the bakery ran out of bread by eight o'clock despite baking through the night.",
    "A choir from the twin town across the border sang at the end of the parade, the first time the two "
    "towns have performed together since the old cable car between them closed.",
    "Next year the council hopes to invite lantern makers from abroad, and it has asked the regional "
    "government for money to light the riverside path permanently during the winter months.",
    "Residents interviewed by the Valley Courier said the parade had brought the valley together after a "
    "difficult year of floods, road closures and the loss of its last secondary school.",
]

PARADE = ("---\ntitle: Record crowd for the glacier lantern parade\nsource: Valley Courier\n"
          "published: 2024-01-13\nurl: https://example.org/zarnov-parade\n---\n"
          + " ".join(PARADE_SENTENCES) + "\n")

CORPUS = {"mongolia.md": MONGOLIA, "harbour.md": HARBOUR, "parade.md": PARADE}

ALTANBULAG = "How many people arrived at Altanbulag?"
HARBOUR_QUESTION = "What did organisers post on the town board at Port Elsie?"
UNANSWERABLE = "What is the capital of Peru?"
LONG_QUESTION = "Tell me everything about the glacier lantern parade in Zarnov"


def write_corpus(folder: Path, articles: dict[str, str] = CORPUS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def build_index(base: Path, embedder) -> Settings:
    """A real index of the tiny corpus (about 6 chunks, a second or two to embed)."""
    corpus = write_corpus(base / "corpus")
    settings = Settings(_env_file=None, NEWSDESK_DATA_DIR=str(base / "data"), NEWSDESK_CORPUS=str(corpus))
    Ingestor(settings, embedder=embedder).ingest_paths([corpus])
    return settings


class LongAnswers:
    """The real engine, except that questions starting "Tell me everything" get an answer made of
    every sentence of the passages retrieved for it, each with its [n] marker: far over 2,000
    characters, and cited from real chunks of the real index."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.embedder = engine.embedder

    def status(self):
        return self.engine.status()

    def ask(self, question: str, history: list[Turn] = ()) -> AnswerResult:
        result = self.engine.ask(question, history)
        if not question.startswith("Tell me everything"):
            return result
        ids = [r.chunk_id for r in result.retrieved]
        chunks = self.engine.store.get_chunks(ids)
        citations, sentences = [], []
        for chunk_id in ids:
            text, meta = chunks[chunk_id]
            if "parade" not in meta.get("title", "").lower():
                continue
            n = len(citations) + 1
            citations.append(Citation(n=n, article_id=meta["article_id"], chunk_id=chunk_id,
                                      title=meta.get("title"), source=meta.get("source"),
                                      published=meta.get("published"), url=meta.get("url"), text=text))
            sentences += [f"{s} [{n}]" for s in re.split(r"(?<=[.!?])\s+", text) if s]
        return result.model_copy(update={"answer": " ".join(sentences), "refused": False,
                                         "citations": citations})
