"""Ingestion: article files (or parsed articles) into the Chroma index.

Strategy, stated once (after llama-index's ingestion pipeline, but explicit):

* Each article version has a hash over its text, its metadata and the chunker
  and model settings. Chunk ids derive from the article id, that hash and the
  chunk's position, so writing a version twice writes the same records.
* Upsert, then delete: a new or changed article's chunks are embedded and
  upserted first, and only then are its older versions' chunks deleted. A
  process killed anywhere leaves either the old version, or the new one
  complete, or both; every chunk records how many chunks its version has, so
  the next run recognises what is complete, embeds only the chunks that are
  missing and deletes the rest. No separate record can disagree with Chroma.
* Unchanged articles (same hash, complete, alone) cost no embedding at all.
* `prune` deletes articles that came from files under the given folders whose
  files (or whose records inside a still-present file) are gone.
* `rebuild` drops the collections and starts over.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from newsdesk.articles import Article, ArticleError, discover, parse_file
from newsdesk.chunking import CHUNKER_VERSION, Chunk, Chunker
from newsdesk.config import Settings
from newsdesk.embedding import MiniLMEmbedding, load_embedder
from newsdesk.store import ArticleState, ChunkStore, chunk_id, server_unavailable

EMBED_GROUP_CHUNKS = 256

log = logging.getLogger(__name__)


class UsageError(ValueError):
    """Bad arguments: a path that does not exist, a data directory that cannot be written."""


class ArticleCounts(BaseModel):
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0


class ChunkCounts(BaseModel):
    embedded: int = 0
    deleted: int = 0
    total: int = 0


class Failure(BaseModel):
    path: str = Field(description="The file (and record, for json/jsonl) that could not be ingested.")
    error: str = Field(description="Why, in words a person can act on.")


class IngestSummary(BaseModel):
    """What one ingestion run did; `--json` prints exactly this."""

    articles: ArticleCounts = Field(default_factory=ArticleCounts)
    chunks: ChunkCounts = Field(default_factory=ChunkCounts)
    failures: list[Failure] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks.embedded / self.seconds if self.seconds > 0 else 0.0

    @property
    def changed(self) -> bool:
        counts = self.articles
        return bool(counts.new or counts.updated or counts.removed or self.chunks.deleted)

    def describe(self) -> str:
        a, c = self.articles, self.chunks
        lines = [
            f"articles: {a.new} new, {a.updated} updated, {a.unchanged} unchanged, "
            f"{a.removed} removed, {a.failed} failed",
            f"chunks: {c.embedded} embedded, {c.deleted} deleted, {c.total} in the index",
            f"{self.seconds:.1f} s, {self.chunks_per_second:.1f} chunks/s",
        ]
        lines += [f"failed: {f.path}: {f.error}" for f in self.failures]
        return "\n".join(lines)


Progress = Callable[[int], None]


@dataclass
class _Pending:
    article: Article
    version: str
    chunks: list[Chunk]
    ids: list[str]
    state: ArticleState | None


class Ingestor:
    """Holds the embedder and the store, so several runs (the bot's /reindex) share one model load."""

    def __init__(self, settings: Settings, embedder: MiniLMEmbedding | None = None):
        self.settings = settings
        self.embedder = embedder or load_embedder(settings.embed_batch_size, settings.embed_threads)
        self.chunker = Chunker(self.embedder.count_tokens, self.embedder.token_offsets,
                               settings.chunk_tokens, settings.chunk_overlap_tokens)

    def settings_fingerprint(self) -> str:
        s = self.settings
        return f"{CHUNKER_VERSION}:{s.chunk_tokens}:{s.chunk_overlap_tokens}:{self.embedder.model_name}"

    def open_store(self, *, create: bool = True, rebuild: bool = False) -> ChunkStore:
        return ChunkStore.open(self.settings, self.embedder.model_name, self.embedder.dimension,
                               create=create, rebuild=rebuild)

    # -- files ---------------------------------------------------------------------
    def ingest_paths(self, paths: Iterable[Path | str], *, prune: bool = False, rebuild: bool = False,
                     progress: Callable[[int], Progress] | None = None) -> IngestSummary:
        """Ingest files and folders; see the module docstring for what each flag does."""
        paths = [Path(p) for p in paths]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"no such file or folder: {', '.join(missing)}")
        started = time.perf_counter()
        files, _ = discover(paths)
        articles: list[Article] = []
        failures: list[Failure] = []
        failed_files: set[str] = set()
        produced: dict[str, set[str]] = {}
        for source in files:
            produced.setdefault(source.relative_id, set())
            try:
                for item in parse_file(source):
                    if isinstance(item, ArticleError):
                        failures.append(Failure(path=str(source.path), error=str(item)))
                        failed_files.add(source.relative_id)
                        continue
                    articles.append(item)
                    produced[source.relative_id].add(item.id)
            except ArticleError as exc:
                failures.append(Failure(path=str(source.path), error=str(exc)))
                failed_files.add(source.relative_id)
        prune_scope = _PruneScope(paths, produced, failed_files) if prune else None
        return self.ingest_articles(articles, failures=failures, prune_scope=prune_scope,
                                    rebuild=rebuild, progress=progress, started=started)

    # -- articles --------------------------------------------------------------------
    def ingest_articles(self, articles: list[Article], *, failures: list[Failure] | None = None,
                        prune_scope: "_PruneScope | None" = None, rebuild: bool = False,
                        progress: Callable[[int], Progress] | None = None,
                        started: float | None = None) -> IngestSummary:
        """Bring the index in line with `articles` (the library entry point, also used for feeds)."""
        started = started if started is not None else time.perf_counter()
        summary = IngestSummary(failures=list(failures or []))
        articles = self._drop_duplicates(articles, summary)
        with _index_lock(self.settings.data_dir), self._server_errors():
            store = self.open_store(create=True, rebuild=rebuild)
            states = store.article_states()
            plan = self._plan(articles, states, summary)
            changing = _ChangeMarker(store)
            self._write(store, plan.pending, summary, progress, changing)
            if plan.stale:
                changing()
                store.delete(plan.stale)
                summary.chunks.deleted += len(plan.stale)
            if plan.moved:
                self._relabel(store, plan.moved, changing)
            removed = self._prune(store, states, prune_scope, summary, changing) if prune_scope else set()
            self._sync_article_texts(store, states, plan, removed, changing)
            store.bump_version(finished=True, changed=changing.used)
            summary.chunks.total = store.count()
        summary.articles.failed = len(summary.failures)
        summary.seconds = time.perf_counter() - started
        return summary

    @contextmanager
    def _server_errors(self) -> Iterator[None]:
        """A Chroma server that stops answering mid-run is a clear StoreUnavailable, not a traceback."""
        import httpx

        try:
            yield
        except (httpx.TransportError, ConnectionError) as exc:
            if not self.settings.chroma_host:
                raise
            raise server_unavailable(self.settings, exc) from None

    def _drop_duplicates(self, articles: list[Article], summary: IngestSummary) -> list[Article]:
        seen: dict[str, Article] = {}
        for article in articles:
            if article.id in seen:
                summary.failures.append(Failure(
                    path=article.source_file or article.id,
                    error=f"duplicate article id {article.id!r}, already read from "
                          f"{seen[article.id].source_file or 'an earlier record'}; skipped"))
                continue
            seen[article.id] = article
        return list(seen.values())

    def article_version(self, article: Article) -> str:
        """The hash that names one version of an article as indexed (text, metadata, chunking, model)."""
        return hashlib.sha256(f"{self.settings_fingerprint()}\n{article.content_hash()}".encode()).hexdigest()

    def _plan(self, articles: list[Article], states: dict[str, ArticleState], summary: IngestSummary) -> "_Plan":
        plan = _Plan()
        for article in articles:
            version = self.article_version(article)
            state = states.get(article.id)
            if state is not None and state.is_complete(version):
                summary.articles.unchanged += 1
                plan.stale += [i for v, ids in state.versions.items() if v != version for i in ids]
                plan.unchanged[article.id] = (article, version, state.versions[version])
                if state.source_file != article.source_file:
                    plan.moved[article.id] = (article, state.versions[version])
                continue
            chunks = self.chunker.chunk(article)
            ids = [chunk_id(article.id, version, c.index) for c in chunks]
            plan.pending.append(_Pending(article, version, chunks, ids, state))
            if state is None or set(state.versions) == {version}:
                summary.articles.new += 1
            else:
                summary.articles.updated += 1
        return plan

    def _write(self, store: ChunkStore, pending: list[_Pending], summary: IngestSummary,
               progress: Callable[[int], Progress] | None, changing: "_ChangeMarker") -> None:
        todo = sum(len(p.ids) - len(self._present(p)) for p in pending)
        tick = progress(todo) if progress and todo else None
        group: list[_Pending] = []
        size = 0
        for item in pending:
            group.append(item)
            size += len(item.ids)
            if size >= EMBED_GROUP_CHUNKS:
                self._write_group(store, group, summary, tick, changing)
                group, size = [], 0
        if group:
            self._write_group(store, group, summary, tick, changing)

    @staticmethod
    def _present(item: _Pending) -> set[str]:
        """Chunks of this very version that an interrupted run already stored."""
        if item.state is None:
            return set()
        return set(item.state.versions.get(item.version, [])) & set(item.ids)

    def _write_group(self, store: ChunkStore, group: list[_Pending], summary: IngestSummary,
                     tick: Progress | None, changing: "_ChangeMarker") -> None:
        """Embed and store a few articles' missing chunks, then their texts, then drop their old versions."""
        texts, ids, documents, metadatas = [], [], [], []
        for item in group:
            present = self._present(item)
            for chunk, cid in zip(item.chunks, item.ids):
                if cid in present:
                    continue
                texts.append(chunk.embed_text)
                ids.append(cid)
                documents.append(chunk.text)
                metadatas.append(chunk_metadata(item.article, item.version, len(item.chunks), chunk))
        changing()
        vectors = self.embedder.embed(texts, on_batch=tick)
        if ids:
            store.upsert(ids, vectors, documents, metadatas)
        summary.chunks.embedded += len(ids)
        by_id = dict(zip(ids, vectors))
        missing = [i for item in group for i in item.ids if i not in by_id]
        by_id.update((i, np.asarray(v, dtype=np.float32)) for i, v in store.get_embeddings(missing).items())
        store.put_articles([
            (item.article.id, item.article.text,
             article_metadata(item.article, item.version, len(item.chunks)),
             _mean_direction([by_id[i] for i in item.ids if i in by_id], self.embedder.dimension))
            for item in group])
        old = [i for item in group if item.state is not None
               for v, vids in item.state.versions.items() if v != item.version for i in vids]
        if old:
            store.delete(old)
            summary.chunks.deleted += len(old)
        log.info("stored %d new chunks of %d articles", len(ids), len(group))

    def _relabel(self, store: ChunkStore, moved: dict[str, tuple[Article, list[str]]],
                 changing: "_ChangeMarker") -> None:
        """An unchanged article now read from another file: new `source_file`, same vectors."""
        changing()
        updates: dict[str, dict] = {}
        for article, ids in moved.values():
            for cid, (_, meta) in store.get_chunks(ids).items():
                updates[cid] = {**meta, "source_file": article.source_file} if article.source_file else meta
        store.update_metadata(updates)

    def _prune(self, store: ChunkStore, states: dict[str, ArticleState], scope: "_PruneScope",
               summary: IngestSummary, changing: "_ChangeMarker") -> set[str]:
        doomed = [state for state in states.values() if scope.removes(state)]
        if not doomed:
            return set()
        changing()
        ids = [i for state in doomed for i in state.all_ids()]
        store.delete(ids)
        store.delete_articles([state.article_id for state in doomed])
        summary.articles.removed += len(doomed)
        summary.chunks.deleted += len(ids)
        return {state.article_id for state in doomed}

    def _sync_article_texts(self, store: ChunkStore, states: dict[str, ArticleState], plan: "_Plan",
                            removed: set[str], changing: "_ChangeMarker") -> None:
        """Repair what a killed run can leave between the two collections: a text whose chunks are
        gone, or an article whose chunks are complete but whose text is missing or out of date."""
        stored = store.article_text_versions()
        indexed = (set(states) - removed) | {item.article.id for item in plan.pending}
        orphans = [article_id for article_id in stored if article_id not in indexed]
        lacking = [(article, version, ids) for article, version, ids in plan.unchanged.values()
                   if stored.get(article.id) != version]
        if not orphans and not lacking:
            return
        changing()
        store.delete_articles(orphans)
        records = []
        for article, version, ids in lacking:
            vectors = [np.asarray(v, dtype=np.float32) for v in store.get_embeddings(ids).values()]
            records.append((article.id, article.text, article_metadata(article, version, len(ids)),
                            _mean_direction(vectors, self.embedder.dimension)))
        store.put_articles(records)


def _mean_direction(vectors: list, dimension: int) -> list[float]:
    """The article's vector: the normalised mean of its chunks' vectors."""
    mean = np.mean(vectors, axis=0) if len(vectors) else np.ones(dimension, dtype=np.float32)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).tolist()


@dataclass
class _Plan:
    """What one run will do: embed `pending`, delete `stale` chunks, relabel `moved` articles."""

    pending: list[_Pending] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    unchanged: dict[str, tuple[Article, str, list[str]]] = field(default_factory=dict)
    moved: dict[str, tuple[Article, list[str]]] = field(default_factory=dict)


class _ChangeMarker:
    """Marks the index as changing (a new `index_version`) once, right before a run's first write."""

    def __init__(self, store: ChunkStore):
        self.store = store
        self.used = False

    def __call__(self) -> None:
        if not self.used:
            self.store.bump_version()
            self.used = True


def _metadata_common(article: Article, version: str, chunk_count: int) -> dict:
    meta = {
        "article_id": article.id,
        "article_hash": version,
        "chunk_count": chunk_count,
        "title": article.title,
        "source": article.source,
        "author": article.author,
        "url": article.url,
        "published": article.published.isoformat() if article.published else None,
        "published_day": article.published.toordinal() if article.published else None,
        "year": article.year,
        "year_only": article.year if article.published is None else None,
        "source_file": article.source_file,
    }
    return {k: v for k, v in meta.items() if v is not None}


def chunk_metadata(article: Article, version: str, chunk_count: int, chunk: Chunk) -> dict:
    meta = _metadata_common(article, version, chunk_count)
    meta.update(
        chunk_index=chunk.index,
        start=chunk.start,
        end=chunk.end,
        sentences=";".join(f"{s.start}:{s.end}" for s in chunk.sentences),
    )
    return meta


def article_metadata(article: Article, version: str, chunk_count: int) -> dict:
    return _metadata_common(article, version, chunk_count)


class _PruneScope:
    """Which indexed articles a `--prune` run may remove: those from files under the given folders
    (or the given files) that are gone, or that a still-present, fully readable file no longer holds."""

    def __init__(self, paths: list[Path], produced: dict[str, set[str]], failed_files: set[str]):
        self.prefixes = [f"{p.resolve().name}/" for p in paths if p.is_dir()]
        self.exact = {f"{p.resolve().parent.name}/{p.name}" for p in paths if not p.is_dir()}
        self.produced = produced
        self.failed_files = failed_files
        self.present = {article_id for ids in produced.values() for article_id in ids}

    def removes(self, state: ArticleState) -> bool:
        source = state.source_file
        if not source or state.article_id in self.present:
            return False
        if not (source in self.exact or any(source.startswith(prefix) for prefix in self.prefixes)):
            return False
        if source not in self.produced:
            return True
        if source in self.failed_files:
            return False
        return state.article_id not in self.produced[source]


class LockFile:
    """An exclusive lock on a file in the data directory (flock, so the kernel lets go if the
    process dies): one ingestion writing at a time, one feed poll at a time."""

    def __init__(self, path: Path, waiting: str = "another process holds %s; waiting for it"):
        self.path = Path(path)
        self.waiting = waiting
        self.handle = None

    def acquire(self, *, wait: bool) -> bool:
        """Take the lock; without `wait`, return False at once if someone else holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "w")
        except OSError as exc:
            raise UsageError(f"cannot write to the data directory {self.path.parent}: "
                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                self.handle.close()
                self.handle = None
                return False
            log.warning(self.waiting, self.path.parent)
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> "LockFile":
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def _index_lock(data_dir: Path) -> LockFile:
    """One writer at a time per data directory (the bot's /reindex beside a CLI run)."""
    return LockFile(Path(data_dir) / ".ingest.lock",
                    "another ingestion is running in %s; waiting for it to finish")


def tqdm_progress(enabled: bool) -> Callable[[int], Progress] | None:
    """A progress bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None

    def start(total: int) -> Progress:
        from tqdm import tqdm

        try:
            size = os.get_terminal_size(sys.stderr.fileno())
            measured = size.columns > 0 and size.lines > 0
        except OSError:
            measured = False
        # A terminal that reports no size (a bare pty, `script`) would make tqdm hide the bar.
        shape = {} if measured else {"ncols": 80, "nrows": 24}
        bar = tqdm(total=total, unit="chunk", desc="embedding", leave=False, file=sys.stderr, **shape)

        def tick(done: int) -> None:
            bar.update(done)
            if bar.n >= total:
                bar.close()
        return tick
    return start


def ingest(paths: Iterable[Path | str], settings: Settings, *, prune: bool = False, rebuild: bool = False,
           progress: Callable[[int], Progress] | None = None) -> IngestSummary:
    """Library entry point: ingest files and folders with the settings given."""
    return Ingestor(settings).ingest_paths(paths, prune=prune, rebuild=rebuild, progress=progress)


