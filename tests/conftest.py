"""Fixtures shared by the whole suite: one embedding model per test session, fresh settings per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest_support import chroma_server  # noqa: F401  (one `chroma run` server for the whole session)
from newsdesk.config import Settings, load_settings
from newsdesk.embedding import MiniLMEmbedding, load_embedder
from newsdesk.engine import Engine
from newsdesk.ingestion import Ingestor

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT_ROOT / "seeds"
SEED_ID = "seeds/000_4510fe1ca80486bb.txt"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedding:
    """The real model, loaded once (loading costs about a second)."""
    return load_embedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data directory and no .env from the working directory."""
    return load_settings(data_dir=tmp_path / "data", env_file=None)


# Kesstead is a town the archive often mentions; its university's discovery is one sentence in one
# article, while forty rival universities' stories say the discovery's words twice: an archive
# with many stories on one topic, as a real one has.
SAME_TOPIC = "found an enzyme that speeds up cement curing"
SAME_TOPIC_RIVALS = [first + second for first in ("Bram", "Oak", "Mill", "Stan", "Pen", "Bar", "Ash", "Lor")
                     for second in ("worth", "mere", "field", "holm", "ton")]


@pytest.fixture(scope="session")
def same_topic_archive(tmp_path_factory, embedder) -> Engine:
    """An engine over that archive."""
    articles = [{"id": f"town-{n}", "title": f"Kesstead council meets on plan {n}", "source": "Valley Post",
                 "body": f"Kesstead council approved plan number {n} for the town centre on Monday. "
                         "Residents in Kesstead said the work would disrupt traffic."} for n in range(40)]
    articles += [{"id": f"rival-{place.lower()}", "title": f"Breakthrough at {place}",
                  "source": "Metro Dispatch",
                  "body": f"Researchers at the University of {place} say they have {SAME_TOPIC}. The team "
                          f"that {SAME_TOPIC} was led by Umar {place}son of the University of {place}. "
                          "A visiting group from Kesstead toured the laboratory."}
                 for place in SAME_TOPIC_RIVALS]
    articles.append({"id": "kesstead-enzyme", "title": "Scientists publish results",
                     "source": "Metro Dispatch",
                     "body": "A team of scientists published results this week that could change their "
                             "field. Other scientists cautioned that the results would need to be repeated. "
                             f"The team that {SAME_TOPIC} was led by Anna Nordwood of the University of "
                             "Kesstead."})
    root = tmp_path_factory.mktemp("same-topic")
    (root / "archive.json").write_text(json.dumps(articles))
    settings = load_settings(data_dir=tmp_path_factory.mktemp("data"), env_file=None)
    assert not Ingestor(settings, embedder=embedder).ingest_paths([root]).failures
    return Engine(settings, embedder=embedder)
