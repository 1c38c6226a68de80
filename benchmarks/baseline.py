"""The baseline: "plain llama-index", what a user would build in an afternoon.

A `VectorStoreIndex` over its own Chroma collection (in its own folder), built
with llama-index's defaults: `SentenceSplitter` (1,024 tokens, 200 overlap, by
tiktoken), metadata (title, outlet, author, date, url) embedded with each chunk
as llama-index does by default, and the same embedding model as newsdesk
(through `MiniLMEmbedding.as_llama_index()`). Retrieval is top-10 dense.

It has no answerer and no refusal, so `ask` returns the top chunk as the
answer and the only citation, and never refuses: its retrieval metrics are
comparable with newsdesk's, its passage hit and answer accuracy say how often
the top chunk alone holds the evidence or the answer, and its refusal rate is
0 by construction.

Offline: no LLM is ever built (retrieval does not need one, and `Settings.llm`
is never touched); tiktoken's encoding and nltk's data come from the copies
llama-index-core ships in `llama_index/core/_static`, so nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from newsdesk.articles import Article
from newsdesk.results import AnswerResult, Citation, Retrieved

SYSTEM = "plain llama-index"
COLLECTION = "baseline"


def fingerprint(articles: list[Article]) -> str:
    digest = hashlib.sha256()
    for article in articles:
        digest.update(article.id.encode())
        digest.update(article.content_hash().encode())
    return digest.hexdigest()


def to_document(article: Article):
    from llama_index.core import Document

    metadata = {
        "title": article.title, "source": article.source, "author": article.author,
        "published": article.published.isoformat() if article.published else None, "url": article.url,
    }
    return Document(text=article.text, id_=article.id,
                    metadata={key: value for key, value in metadata.items() if value})


class LlamaIndexBaseline:
    """Build once per corpus (kept in `folder` and reused while the corpus is unchanged), then ask."""

    def __init__(self, folder: Path | str, embedder, *, top_k: int = 10):
        self.folder = Path(folder)
        self.embedder = embedder
        self.top_k = top_k
        self.index = None
        self.chunks = 0
        self.build_seconds = 0.0

    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.PersistentClient(path=str(self.folder / "chroma"),
                                         settings=ChromaSettings(anonymized_telemetry=False))

    def build(self, articles: list[Article]) -> "LlamaIndexBaseline":
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        embed_model = self.embedder.as_llama_index()
        stamp = self.folder / "fingerprint.json"
        wanted = fingerprint(articles)
        if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == wanted:
            collection = self._client().get_collection(COLLECTION)
            store = ChromaVectorStore(chroma_collection=collection)
            self.index = VectorStoreIndex.from_vector_store(store, embed_model=embed_model)
            self.chunks = collection.count()
            self.build_seconds = json.loads(stamp.read_text()).get("seconds", 0.0)
            return self
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        started = time.perf_counter()
        collection = self._client().create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
        store = ChromaVectorStore(chroma_collection=collection)
        self.index = VectorStoreIndex.from_documents(
            [to_document(a) for a in articles], storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed_model)
        self.chunks = collection.count()
        self.build_seconds = time.perf_counter() - started
        stamp.write_text(json.dumps({"fingerprint": wanted, "seconds": self.build_seconds,
                                     "chunks": self.chunks}))
        return self

    def ask(self, question: str) -> AnswerResult:
        started = time.perf_counter()
        nodes = self.index.as_retriever(similarity_top_k=self.top_k).retrieve(question)
        retrieved = [Retrieved(article_id=n.node.ref_doc_id, chunk_id=n.node.node_id, score=float(n.score or 0.0))
                     for n in nodes]
        citations = []
        answer = ""
        if nodes:
            top = nodes[0].node
            meta = top.metadata
            text = top.get_content()
            citations = [Citation(n=1, article_id=top.ref_doc_id, chunk_id=top.node_id, title=meta.get("title"),
                                  source=meta.get("source"), published=meta.get("published"),
                                  url=meta.get("url"), text=text)]
            answer = f"{text} [1]"
        return AnswerResult(question=question, answer=answer, refused=False, citations=citations,
                            retrieved=retrieved, answerer="llama-index top chunk",
                            latency_ms=round((time.perf_counter() - started) * 1000, 2))
