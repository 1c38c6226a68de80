"""A hypothesis state machine over ingestion, after Chroma's own property tests (chromadb/test/property).

Random sequences of adding, editing, renaming and deleting small article
files, ingest runs with and without --prune, and runs that die part-way
(the store raising at a chosen write, as a killed process would stop there).
After every completed run the index must hold exactly the chunks of the
articles the model says are indexed: same ids as a fresh chunking, every
article complete, no older versions, and the article texts beside them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from ingest_support import assert_index_is_exactly, current_articles, make_settings, write_article
from newsdesk.articles import Article
from newsdesk.embedding import load_embedder
from newsdesk.ingestion import Ingestor
from newsdesk.store import ChunkStore

SENTENCES = [
    "The council met on Tuesday.", "Gov. Ana Ruiz signed the bill on Aug. 5.", "Prices rose 3.5 percent.",
    "U.S. officials arrived in the capital.", "Schools will reopen next week.", "The ferry resumed service.",
    "Talks broke down late at night.", "Farmers protested outside parliament.", "A storm cut power to 2,000 homes.",
    "The museum reopened after repairs.",
]
NAMES = ["a.txt", "b.txt", "c.md", "sub/d.txt", "sub/e.md"]
URLS = [None, None, "https://news.example/1", "https://news.example/2"]
bodies = st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4).map(" ".join)
titles = st.sampled_from(["Council news", "Ferry back", "Storm", "Farm protest", "Museum"])
file_writes = st.lists(st.tuples(st.sampled_from(NAMES), titles, bodies, st.sampled_from(URLS)),
                       min_size=1, max_size=3)

_EMBEDDER = None


def shared_embedder():
    """One model for every example (hypothesis state machines take no fixtures)."""
    global _EMBEDDER
    if _EMBEDDER is None:
        _EMBEDDER = load_embedder()
    return _EMBEDDER


class Killed(Exception):
    """Stands for the process dying at this point of the run."""


class DyingStore(ChunkStore):
    """A store whose process 'dies' right before its n-th write (any kind), when armed."""

    writes_left: int | None = None

    def _maybe_die(self, kind: str) -> None:
        if DyingStore.writes_left is None:
            return
        if DyingStore.writes_left == 0:
            raise Killed(kind)
        DyingStore.writes_left -= 1

    def upsert(self, *args, **kwargs):
        self._maybe_die("upsert")
        super().upsert(*args, **kwargs)

    def put_articles(self, *args, **kwargs):
        self._maybe_die("article texts")
        super().put_articles(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._maybe_die("delete")
        super().delete(*args, **kwargs)

    def update_metadata(self, *args, **kwargs):
        self._maybe_die("relabel")
        super().update_metadata(*args, **kwargs)

    def delete_articles(self, *args, **kwargs):
        self._maybe_die("delete article texts")
        super().delete_articles(*args, **kwargs)


class DyingIngestor(Ingestor):
    def open_store(self, *, create: bool = True, rebuild: bool = False) -> ChunkStore:
        return DyingStore.open(self.settings, self.embedder.model_name, self.embedder.dimension,
                               create=create, rebuild=rebuild)


class IngestionMachine(RuleBasedStateMachine):
    """Model: the files on disk, and which article versions a completed run left indexed."""

    def __init__(self):
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="newsdesk-sm-"))
        self.root = self.base / "corpus"
        self.root.mkdir()
        settings = make_settings(self.base / "data", chunk_tokens=16, chunk_overlap_tokens=4, embed_batch_size=8)
        self.ingestor = DyingIngestor(settings, shared_embedder())
        self.files: dict[str, tuple[str, str, str | None]] = {}
        self.indexed: dict[str, Article] = {}
        self.settled = True
        self.checked = False

    @initialize(writes=st.lists(st.tuples(st.sampled_from(NAMES), titles, bodies, st.sampled_from(URLS)),
                                max_size=3))
    def first_run(self, writes):
        self.write_files(writes)
        summary = self.ingest(prune=True)
        assert summary.articles.new == len(self.files)

    # -- files ------------------------------------------------------------------------
    @rule(writes=file_writes)
    def write_files(self, writes):
        """Add or edit one to three files."""
        for name, title, body, url in writes:
            if url and any(u == url for n, (_, _, u) in self.files.items() if n != name):
                url = None  # one article per url; a duplicate is tested on its own
            self.files[name] = (title, body, url)
            write_article(self.root, name, title, body, **({"url": url} if url else {}))

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def delete_file(self, data):
        name = data.draw(st.sampled_from(sorted(self.files)))
        (self.root / name).unlink()
        del self.files[name]

    @precondition(lambda self: self.files)
    @rule(data=st.data(), target_name=st.sampled_from(NAMES))
    def rename_file(self, data, target_name):
        name = data.draw(st.sampled_from(sorted(self.files)))
        if target_name == name or target_name in self.files:
            return
        (self.root / target_name).parent.mkdir(parents=True, exist_ok=True)
        (self.root / name).rename(self.root / target_name)
        self.files[target_name] = self.files.pop(name)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def rewrite_unchanged(self, data):
        name = data.draw(st.sampled_from(sorted(self.files)))
        title, body, url = self.files[name]
        write_article(self.root, name, title, body, **({"url": url} if url else {}))

    # -- runs -------------------------------------------------------------------------
    def ingest(self, *, prune: bool):
        """A completed run; when the index was in a known state, its summary must say what changed."""
        before = dict(self.indexed)
        current = {a.id: a for a in current_articles([self.root])}
        summary = self.ingestor.ingest_paths([self.root], prune=prune)
        assert summary.failures == []
        changed = [a for a in current.values()
                   if a.id not in before or self.ingestor.article_version(a) !=
                   self.ingestor.article_version(before[a.id])]
        if self.settled:
            assert summary.chunks.embedded == sum(len(self.ingestor.chunker.chunk(a)) for a in changed)
            assert summary.articles.new == sum(a.id not in before for a in changed)
            assert summary.articles.updated == sum(a.id in before for a in changed)
            assert summary.articles.unchanged == len(current) - len(changed)
            assert summary.articles.removed == (len(set(before) - set(current)) if prune else 0)
        self.after_completed_run(current, prune)
        return summary

    def after_completed_run(self, current: dict[str, Article], prune: bool) -> None:
        if prune:
            self.indexed, self.settled = current, True
        else:
            # Without --prune, what a killed run left of since-deleted files stays unknown.
            self.indexed.update(current)
        self.checked = False

    @rule(prune=st.booleans())
    def ingest_run(self, prune):
        self.ingest(prune=prune)

    @rule(changes=file_writes, writes=st.sampled_from([0, 1, 2, 3]), prune=st.booleans())
    def change_files_then_die_in_the_run(self, changes, writes, prune):
        """Some files change, and the run that follows dies before its n-th write to the store."""
        self.write_files(changes)
        DyingStore.writes_left = writes
        current = {a.id: a for a in current_articles([self.root])}
        try:
            self.ingestor.ingest_paths([self.root], prune=prune)
        except Killed:
            self.settled, self.indexed = False, {}  # unknown until the next completed run with --prune
        else:
            self.after_completed_run(current, prune)  # it never reached the write it was to die at
        finally:
            DyingStore.writes_left = None

    @precondition(lambda self: not self.settled)
    @rule()
    def recover(self):
        self.ingest(prune=True)

    # -- the invariant -------------------------------------------------------------------
    @invariant()
    def index_holds_exactly_the_indexed_articles(self):
        """Checked once after each completed run (file changes alone do not touch the index)."""
        if self.settled and not self.checked:
            assert_index_is_exactly(self.ingestor, list(self.indexed.values()))
            self.checked = True

    def teardown(self):
        """A sequence that ended right after a killed run still has to recover."""
        from chromadb.api.client import SharedSystemClient

        try:
            if not self.settled:
                self.recover()
                self.index_holds_exactly_the_indexed_articles()
        finally:
            SharedSystemClient.clear_system_cache()
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.mark.slow
def test_ingestion_state_machine():
    run_state_machine_as_test(IngestionMachine, settings=hypothesis_settings(
        max_examples=25, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
