"""Helpers for the ingestion tests: small article files, the index invariant, the CLI, a Chroma server.

The invariant every ingestion test ends with: the index holds exactly the
chunks of the articles that are in the files now (same ids as a fresh chunking
of each article gives, every article complete, no older versions, nothing
else), and the article-text collection holds exactly those articles' current
texts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsdesk.articles import Article, ArticleError, discover, parse_file
from newsdesk.config import Settings, load_settings
from newsdesk.ingestion import Ingestor
from newsdesk.store import ChunkStore, chunk_id

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHROMA_CLI = Path(sys.executable).parent / "chroma"
SUMMARY_KEYS = {"articles", "chunks", "failures", "seconds"}


def make_settings(data_dir: Path, **overrides) -> Settings:
    return load_settings(data_dir=data_dir, env_file=None, **overrides)


def write_article(root: Path, name: str, title: str, body: str, **front_matter: str) -> Path:
    """A .txt article, with a front-matter block when metadata is given."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "".join(f"{key}: {json.dumps(value)}\n" for key, value in front_matter.items())
    if head:
        path.write_text(f"---\ntitle: {json.dumps(title)}\n{head}---\n{body}\n", encoding="utf-8")
    else:
        path.write_text(f"{title}\n{body}\n", encoding="utf-8")
    return path


def current_articles(roots: list[Path]) -> list[Article]:
    """The articles the files under these roots hold now (unreadable files and records left out)."""
    articles = []
    for source in discover(roots)[0]:
        try:
            articles += [item for item in parse_file(source) if isinstance(item, Article)]
        except ArticleError:
            continue
    return articles


@dataclass
class IndexContents:
    chunks: dict[str, dict]
    """chunk id -> metadata"""
    texts: dict[str, str]
    """article id -> stored article version"""


def index_contents(store: ChunkStore) -> IndexContents:
    chunks = {cid: meta for cid, meta, _ in store.iter_chunks()}
    return IndexContents(chunks, store.article_text_versions())


def open_store(ingestor: Ingestor) -> ChunkStore:
    return ingestor.open_store(create=False)


def assert_index_is_exactly(ingestor: Ingestor, articles: list[Article]) -> None:
    """The invariant: the index holds the chunks of these articles' current versions and nothing else."""
    store = open_store(ingestor)
    contents = index_contents(store)
    expected: dict[str, tuple[str, int]] = {}
    for article in articles:
        version = ingestor.article_version(article)
        chunks = ingestor.chunker.chunk(article)
        for chunk in chunks:
            expected[chunk_id(article.id, version, chunk.index)] = (article.id, len(chunks))
    missing = sorted(set(expected) - set(contents.chunks))
    extra = sorted(set(contents.chunks) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})"
    per_article = Counter(meta["article_id"] for meta in contents.chunks.values())
    for cid, meta in contents.chunks.items():
        article_id, count = expected[cid]
        assert meta["article_id"] == article_id
        assert int(meta["chunk_count"]) == count == per_article[article_id]
    assert store.count() == len(expected)
    versions = {a.id: ingestor.article_version(a) for a in articles}
    assert contents.texts == versions, "the article-text collection must match the articles"
    assert store.count_articles() == len(articles)


# -- the command line ------------------------------------------------------------------

def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m newsdesk` subprocess: no settings leaking in from outside."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSDESK_", "CHROMA_", "CHUNK_", "EMBED_"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newsdesk", *args], cwd=cwd, env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def run_ingest_json(*args: str, cwd: Path, **env: str) -> tuple[int, dict]:
    completed = run_cli("ingest", "--json", *args, cwd=cwd, **env)
    assert completed.stdout.strip(), completed.stderr
    return completed.returncode, json.loads(completed.stdout)


# -- a Chroma server -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """`chroma run` on 127.0.0.1 in a temporary folder, as a deployment would run it."""

    def __init__(self, path: Path, port: int):
        self.path = path
        self.port = port
        self.log = path.parent / "chroma-server.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        import httpx

        log = self.log.open("w")
        self.process = subprocess.Popen(
            [str(CHROMA_CLI), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env=cli_env(), start_new_session=True)
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer its heartbeat in {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def settings(self, data_dir: Path, collection: str) -> Settings:
        return make_settings(data_dir, chroma_host="127.0.0.1", chroma_port=self.port, collection=collection)

    def env(self, collection: str) -> dict[str, str]:
        return {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(self.port), "NEWSDESK_COLLECTION": collection}


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One Chroma server for the session; tests keep apart by collection name."""
    if not CHROMA_CLI.exists():
        pytest.fail(f"{CHROMA_CLI} is missing: the chromadb package provides it")
    base = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(base / "store", free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)
