"""The Chroma index: one place that creates the client, and the chunk records.

Chroma itself is the one source of truth for what is indexed. Every chunk
carries its article id, the hash of the article version it was cut from and
how many chunks that version has, so a reader can always tell a complete
article version from a half-written one (see `ArticleState`). A second
collection keeps each article's full text for moderators.

The embedded store (`PersistentClient` in the data directory) is the default;
with `CHROMA_HOST` set the same code talks to a Chroma server.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from newsdesk.config import Settings

GET_PAGE = 5000
WRITE_BATCH = 1000


class StoreError(RuntimeError):
    """The index cannot be opened or used; the message says what to do."""


class StoreUnavailable(StoreError):
    """The Chroma server cannot be reached."""


class IndexMissing(StoreError):
    """No index exists yet in the data directory."""


class ModelMismatch(StoreError):
    """The index was built with another embedding model."""


def create_client(settings: Settings):
    """The Chroma client, embedded or remote, with telemetry off (it would reach for the network)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        _check_server(settings)
        headers = {}
        if settings.chroma_auth_token:
            headers["Authorization"] = f"Bearer {settings.chroma_auth_token.get_secret_value()}"
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, ssl=settings.chroma_ssl,
                headers=headers, settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectError alike
            raise StoreUnavailable(_server_message(settings, exc)) from None
        _bound_connection_time(client, settings.chroma_timeout_seconds)
        return client
    try:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {settings.chroma_dir}: {exc.strerror}") from None
    try:
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as exc:  # a damaged or foreign folder; chromadb's errors vary by version
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"cannot open the Chroma store in {settings.chroma_dir}: {reason}") from None


def _bound_connection_time(client, seconds: float) -> None:
    """chromadb's HTTP session never times out; a server that vanishes mid-run should not hang us.

    Only connecting (and waiting for a pooled connection) is bounded: a large
    write may legitimately take the server a while to answer.
    """
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(None, connect=seconds, pool=seconds)


def server_unavailable(settings: Settings, exc: Exception) -> "StoreUnavailable":
    """The error to raise when the Chroma server stops answering in the middle of a run."""
    return StoreUnavailable(_server_message(settings, exc))


def _server_label(settings: Settings) -> str:
    scheme = "https" if settings.chroma_ssl else "http"
    return f"{scheme}://{settings.chroma_host}:{settings.chroma_port}"


def _server_message(settings: Settings, exc: Exception) -> str:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (f"cannot reach the Chroma server at {_server_label(settings)} ({reason}); "
            "is it running? Check CHROMA_HOST and CHROMA_PORT.")


def _check_server(settings: Settings) -> None:
    """A heartbeat with a timeout first: chromadb's own client waits forever."""
    import httpx

    url = f"{_server_label(settings)}/api/v2/heartbeat"
    try:
        response = httpx.get(url, timeout=settings.chroma_timeout_seconds)
    except httpx.HTTPError as exc:
        raise StoreUnavailable(_server_message(settings, exc)) from None
    if response.status_code >= 500:
        raise StoreUnavailable(_server_message(settings, RuntimeError(f"HTTP {response.status_code}")))


def article_key(article_id: str) -> str:
    """A short fixed-length key for ids that may be long URLs."""
    return hashlib.sha1(article_id.encode()).hexdigest()[:16]


def chunk_id(article_id: str, version: str, index: int) -> str:
    """Deterministic: the same article version always yields the same ids (idempotent upserts)."""
    return f"{article_key(article_id)}:{version[:16]}:{index}"


@dataclass
class ArticleState:
    """What Chroma holds of one article: chunk ids grouped by article version."""

    article_id: str
    versions: dict[str, list[str]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    source_file: str | None = None

    def is_complete(self, version: str) -> bool:
        """All chunks of this version are stored (others may be stored beside them)."""
        return len(set(self.versions.get(version, ()))) == self.expected.get(version, -1)

    def complete_version(self) -> str | None:
        """A version whose chunks are all present (the first found, when a crash left two)."""
        for version in self.versions:
            if self.is_complete(version):
                return version
        return None

    def all_ids(self) -> list[str]:
        return [chunk for ids in self.versions.values() for chunk in ids]


class ChunkStore:
    """The chunk collection (and the article-text collection beside it)."""

    def __init__(self, client, name: str, model_id: str, dimension: int):
        self.client = client
        self.name = name
        self.model_id = model_id
        self.dimension = dimension
        self._chunks = None
        self._articles = None

    # -- opening ---------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, model_id: str, dimension: int, *, create: bool,
             rebuild: bool = False) -> "ChunkStore":
        """Open (or create) the index; `rebuild` drops it first, whatever model built it."""
        if not create and not settings.chroma_host and not settings.chroma_dir.exists():
            raise IndexMissing(f"no news index in {settings.data_dir} yet; run `newsdesk ingest PATH` first")
        store = cls(create_client(settings), settings.collection, model_id, dimension)
        if rebuild:
            store.drop()
        store._open(create=create, settings=settings)
        return store

    def _open(self, *, create: bool, settings: Settings) -> None:
        try:
            existing = {c.name if hasattr(c, "name") else c for c in self.client.list_collections()}
        except Exception as exc:
            if settings.chroma_host:
                raise StoreUnavailable(_server_message(settings, exc)) from None
            raise
        if self.name not in existing:
            if not create:
                where = (f"the Chroma server at {_server_label(settings)}" if settings.chroma_host
                         else str(settings.data_dir))
                raise IndexMissing(f"no news index in {where} yet; run `newsdesk ingest PATH` first")
            self._chunks = self.client.create_collection(
                self.name, embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": self.model_id,
                          "embedding_dimension": self.dimension, "index_version": uuid.uuid4().hex},
            )
        else:
            self._chunks = self.client.get_collection(self.name, embedding_function=None)
            meta = self._chunks.metadata or {}
            if meta.get("embedding_model") != self.model_id or meta.get("embedding_dimension") != self.dimension:
                raise ModelMismatch(
                    f"the index in {self.name!r} was built with embedding model "
                    f"{meta.get('embedding_model')} ({meta.get('embedding_dimension')} dimensions), "
                    f"not {self.model_id} ({self.dimension}); run `newsdesk ingest --rebuild`"
                )
        self._articles = self.client.get_or_create_collection(
            f"{self.name}_articles", embedding_function=None, metadata={"hnsw:space": "cosine"},
        )

    def drop(self) -> None:
        """Delete both collections (for --rebuild)."""
        for name in (self.name, f"{self.name}_articles"):
            try:
                self.client.delete_collection(name)
            except Exception:
                pass

    # -- reading -----------------------------------------------------------------
    @property
    def last_ingest(self) -> str | None:
        """ISO time of the last finished ingestion run."""
        return self._fresh_metadata().get("last_ingest")

    @property
    def index_version(self) -> str:
        """Changes around every write, so derived indexes (keyword search) know when they are stale."""
        return str((self._fresh_metadata()).get("index_version", ""))

    def _fresh_metadata(self) -> dict:
        return dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})

    def bump_version(self, *, finished: bool = False, changed: bool = True) -> str:
        """Mark the index as changing (before writes) and changed (after, with `finished`).

        A run that wrote nothing passes `changed=False`: it records the time of
        the run but keeps `index_version`, so derived indexes stay valid.
        """
        metadata = self._fresh_metadata()
        metadata.pop("hnsw:space", None)
        if changed or not metadata.get("index_version"):
            metadata["index_version"] = uuid.uuid4().hex
        if finished:
            metadata["last_ingest"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._chunks.modify(metadata=metadata)
        return str(metadata["index_version"])

    def count(self) -> int:
        return self._chunks.count()

    def count_articles(self) -> int:
        return self._articles.count()

    def iter_chunks(self, include: Iterable[str] = ("metadatas",), where: dict | None = None
                    ) -> Iterator[tuple[str, dict, str | None]]:
        """Every chunk as (id, metadata, document), page by page."""
        include = list(include)
        offset = 0
        while True:
            page = self._chunks.get(include=include, limit=GET_PAGE, offset=offset, where=where)
            ids = page["ids"]
            if not ids:
                return
            metadatas = page.get("metadatas") or [None] * len(ids)
            documents = page.get("documents") or [None] * len(ids)
            yield from zip(ids, metadatas, documents)
            if len(ids) < GET_PAGE:
                return
            offset += len(ids)

    def article_states(self) -> dict[str, ArticleState]:
        states: dict[str, ArticleState] = {}
        for chunk, meta, _ in self.iter_chunks():
            state = states.setdefault(meta["article_id"], ArticleState(meta["article_id"]))
            version = meta["article_hash"]
            state.versions.setdefault(version, []).append(chunk)
            state.expected[version] = int(meta["chunk_count"])
            state.source_file = meta.get("source_file", state.source_file)
        return states

    def get_chunks(self, ids: list[str]) -> dict[str, tuple[str, dict]]:
        if not ids:
            return {}
        page = self._chunks.get(ids=ids, include=["documents", "metadatas"])
        return {i: (d, m) for i, d, m in zip(page["ids"], page["documents"], page["metadatas"])}

    def get_embeddings(self, ids: list[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        page = self._chunks.get(ids=ids, include=["embeddings"])
        return {i: list(e) for i, e in zip(page["ids"], page["embeddings"])}

    def article_text_versions(self) -> dict[str, str]:
        """Article id -> the article version (`article_hash`) whose full text is stored."""
        versions: dict[str, str] = {}
        offset = 0
        while True:
            page = self._articles.get(include=["metadatas"], limit=GET_PAGE, offset=offset)
            for meta in page["metadatas"]:
                versions[meta["article_id"]] = str(meta.get("article_hash", ""))
            if len(page["ids"]) < GET_PAGE:
                return versions
            offset += len(page["ids"])

    def get_article_text(self, article_id: str) -> tuple[str, dict] | None:
        page = self._articles.get(ids=[article_key(article_id)], include=["documents", "metadatas"])
        if not page["ids"]:
            return None
        return page["documents"][0], page["metadatas"][0]

    def query(self, embedding, n_results: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first; `n_results` must not exceed the chunk count."""
        if n_results <= 0:
            return []
        result = self._chunks.query(query_embeddings=[list(map(float, embedding))],
                                    n_results=n_results, where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    # -- writing -----------------------------------------------------------------
    def upsert(self, ids: list[str], embeddings, documents: list[str], metadatas: list[dict]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            stop = start + WRITE_BATCH
            self._chunks.upsert(ids=ids[start:stop], embeddings=embeddings[start:stop],
                                documents=documents[start:stop], metadatas=metadatas[start:stop])

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            self._chunks.delete(ids=ids[start:start + WRITE_BATCH])

    def update_metadata(self, metadatas: dict[str, dict]) -> None:
        """Replace chunks' metadata without touching their vectors (a file renamed, say)."""
        ids = list(metadatas)
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start:start + WRITE_BATCH]
            self._chunks.update(ids=batch, metadatas=[metadatas[i] for i in batch])

    def put_article(self, article_id: str, text: str, metadata: dict[str, Any], embedding) -> None:
        self.put_articles([(article_id, text, metadata, embedding)])

    def put_articles(self, records: list[tuple[str, str, dict[str, Any], Any]]) -> None:
        """Store full article texts: (article id, text, metadata, a unit vector) each."""
        for start in range(0, len(records), WRITE_BATCH):
            batch = records[start:start + WRITE_BATCH]
            self._articles.upsert(ids=[article_key(r[0]) for r in batch], documents=[r[1] for r in batch],
                                  metadatas=[r[2] for r in batch], embeddings=[r[3] for r in batch])

    def delete_articles(self, article_ids: list[str]) -> None:
        keys = [article_key(a) for a in article_ids]
        for start in range(0, len(keys), WRITE_BATCH):
            self._articles.delete(ids=keys[start:start + WRITE_BATCH])
