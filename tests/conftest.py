"""Fixtures shared by the whole suite: one embedding model per test session, fresh settings per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_support import chroma_server  # noqa: F401  (one `chroma run` server for the whole session)
from newsdesk.config import Settings, load_settings
from newsdesk.embedding import MiniLMEmbedding, load_embedder

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
