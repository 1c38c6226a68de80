"""Latency of `ask` in one warm process over synthetic archives of about 1k, 10k and 100k chunks.

    python benchmarks/ask_bench.py                    # all three sizes, one process each
    python benchmarks/ask_bench.py --sizes 1k,10k     # some of them
    python benchmarks/ask_bench.py --real-vectors 1k  # the 1k archive embedded by the real model

Prints, per size: p50/p95 of retrieval (keyword + dense + fusion), of the extractive answer
(passage fetch + sentence choice) and of the whole `ask`, and the process's peak RSS.

Chunk vectors: embedding 100k chunks takes about 2.5 hours on a 2-core machine, so by default
the archive's chunks get stand-in vectors (hashed bag of words, 384 dimensions, L2-normalised)
while every question is still embedded by the real model and searched in real Chroma with the
real keyword index. Chroma's search cost depends on the number and size of vectors, not on
where they came from; `--real-vectors` checks that on the 1k archive.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsdesk.articles import Article, normalise_text, parse_date  # noqa: E402
from newsdesk.config import load_settings  # noqa: E402
from newsdesk.synthetic_archive import SIZES, generate  # noqa: E402

DATA = ROOT / "benchmarks" / ".data"


def hashed_vectors(texts: list[str], dimension: int = 384) -> np.ndarray:
    from newsdesk.retrieval import tokenize

    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, text in enumerate(texts):
        for term in tokenize(text):
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            seed = int.from_bytes(digest, "little")
            out[row] += np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
        norm = np.linalg.norm(out[row])
        out[row] = out[row] / norm if norm else 1.0 / np.sqrt(dimension)
    return out


def build(size: str, real_vectors: bool) -> tuple[Path, list]:
    """Build (once) the archive's index; return its data dir and its questions."""
    from newsdesk.embedding import load_embedder
    from newsdesk.ingestion import Ingestor, chunk_metadata
    from newsdesk.store import chunk_id

    archive = generate(SIZES[size], seed=11, questions=200, unplanted=0)
    data_dir = DATA / (f"{size}-real" if real_vectors else size)
    marker = data_dir / "built.json"
    if marker.exists():
        return data_dir, archive.questions
    settings = load_settings(data_dir=data_dir, env_file=None)
    embedder = load_embedder()
    ingestor = Ingestor(settings, embedder=embedder)
    articles = []
    for record in archive.articles:
        published, year = parse_date(record["published_at"])
        articles.append(Article(id=record["url"], title=record["title"], text=normalise_text(record["body"]),
                                source=record["source"], author=record["author"], url=record["url"],
                                published=published, year=year))
    started = time.perf_counter()
    if real_vectors:
        ingestor.ingest_articles(articles)
    else:
        store = ingestor.open_store(create=True)
        store.bump_version()
        fingerprint = ingestor.settings_fingerprint()
        batch_ids, batch_docs, batch_meta, batch_text = [], [], [], []

        def flush():
            if batch_ids:
                store.upsert(batch_ids, hashed_vectors(batch_text), batch_docs, batch_meta)
                batch_ids.clear(), batch_docs.clear(), batch_meta.clear(), batch_text.clear()
        for article in articles:
            version = hashlib.sha256(f"{fingerprint}\n{article.content_hash()}".encode()).hexdigest()
            chunks = ingestor.chunker.chunk(article)
            for chunk in chunks:
                batch_ids.append(chunk_id(article.id, version, chunk.index))
                batch_docs.append(chunk.text)
                batch_meta.append(chunk_metadata(article, version, len(chunks), chunk))
                batch_text.append(chunk.embed_text)
            if len(batch_ids) >= 2000:
                flush()
        flush()
        store.bump_version(finished=True)
    marker.write_text(json.dumps({"articles": len(articles), "seconds": time.perf_counter() - started}))
    return data_dir, archive.questions


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(size: str, real_vectors: bool) -> dict:
    from newsdesk.engine import Engine
    from newsdesk.query import parse_filters

    data_dir, questions = build(size, real_vectors)
    settings = load_settings(data_dir=data_dir, env_file=None)
    engine = Engine(settings)
    started = time.perf_counter()
    engine.warm_up()
    warm = time.perf_counter() - started
    retrieval, answering, total = [], [], []
    for question in questions:
        text = question.question
        t0 = time.perf_counter()
        keyword = engine.retriever.keyword_index()
        filters = parse_filters(text, keyword.known_sources(), engine.today())
        candidates = engine.retriever.search(text, filters, keyword=keyword)
        t1 = time.perf_counter()
        passages = engine._passages(candidates)
        engine.extractive.answer(text, passages, idf=keyword.idf)
        t2 = time.perf_counter()
        result = engine.ask(text)
        retrieval.append((t1 - t0) * 1000)
        answering.append((t2 - t1) * 1000)
        total.append(result.latency_ms)
    return {
        "size": size, "chunks": engine.store.count(), "questions": len(questions),
        "vectors": "model" if real_vectors else "hashed stand-ins",
        "retrieval_p50_ms": statistics.median(retrieval), "retrieval_p95_ms": percentile(retrieval, 0.95),
        "answer_p50_ms": statistics.median(answering), "answer_p95_ms": percentile(answering, 0.95),
        "ask_p50_ms": statistics.median(total), "ask_p95_ms": percentile(total, 0.95),
        "warm_up_s": warm, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1k,10k,100k")
    parser.add_argument("--real-vectors", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.real_vectors)))
        return
    rows = []
    for size in args.sizes.split(","):
        command = [sys.executable, __file__, "--one", size] + (["--real-vectors"] if args.real_vectors else [])
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(f"{'size':>5} {'chunks':>7} {'vectors':>17} {'retrieval p50/p95 ms':>21} {'answer p50/p95 ms':>18} "
          f"{'ask p50/p95 ms':>15} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['size']:>5} {r['chunks']:>7} {r['vectors']:>17} "
              f"{r['retrieval_p50_ms']:>10.1f}/{r['retrieval_p95_ms']:<10.1f} "
              f"{r['answer_p50_ms']:>8.1f}/{r['answer_p95_ms']:<9.1f} {r['ask_p50_ms']:>7.1f}/{r['ask_p95_ms']:<7.1f} "
              f"{r['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main()
