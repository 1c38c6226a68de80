"""The newsdesk embedder seen as a llama-index `BaseEmbedding`, for llama-index code (the evaluation baseline).

A module of its own because importing it imports llama-index-core (about 2.4 s): only
`MiniLMEmbedding.as_llama_index()` imports it, so `newsdesk ask`, `ingest` and the bot never do.
"""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from newsdesk.embedding import MiniLMEmbedding

LLAMA_INDEX_MAX_BATCH = 2048  # BaseEmbedding refuses a larger embed_batch_size


class LlamaIndexEmbedding(BaseEmbedding):
    """Delegates every call to one `MiniLMEmbedding`: the same loaded model, the same vectors."""

    _embedder: MiniLMEmbedding = PrivateAttr()

    def __init__(self, embedder: MiniLMEmbedding):
        super().__init__(model_name=embedder.model_name,
                         embed_batch_size=min(embedder.embed_batch_size, LLAMA_INDEX_MAX_BATCH))
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "NewsdeskMiniLMEmbedding"

    @property
    def embedder(self) -> MiniLMEmbedding:
        return self._embedder

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()
