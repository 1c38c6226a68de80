"""Ingestion throughput against the embedding model's own, and the cost of an unchanged re-ingest.

    python benchmarks/ingest_bench.py                  # 1,000 generated articles (several minutes)
    python benchmarks/ingest_bench.py --articles 100   # a quick look

Generates a deterministic corpus of news-like articles (several paragraphs,
front matter with outlet, author, date and url) and ingests it into a fresh
embedded Chroma store. It also embeds the very same chunk texts with the bare
model (`embedder.embed`, 256 texts a call as ingestion groups them, no parsing,
no chunking, no Chroma; half before the ingestion and half after, since the
load of a shared machine drifts), and prints both rates, their ratio, and how
much of the ingestion was spent outside the model. Then it ingests the
unchanged corpus again and prints that time as a fraction of the first run.

The model is loaded and chromadb imported before anything is timed: both are
once-per-process costs (about 1 s each), not ingestion work.

Goals on a 2-core machine: ingestion at least 0.85 of the model's throughput;
an unchanged re-ingest under 5% of the first run.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsdesk.config import load_settings  # noqa: E402
from newsdesk.embedding import MiniLMEmbedding  # noqa: E402
from newsdesk.ingestion import Ingestor  # noqa: E402

OUTLETS = ["Coastal Herald", "Northern Post", "AFP", "Reuters", "The Daily Example", "Metro Gazette"]
PLACES = ["Ulaanbaatar", "Lagos", "Lyon", "Osaka", "Valparaiso", "Tbilisi", "Halifax", "Cebu", "Tromso", "Nairobi"]
PEOPLE = ["Ana Ruiz", "Li Wei", "Sam Okafor", "Marta Nowak", "Kenji Sato", "Aisha Bello", "Tomas Berg", "Lena Ivanova"]
ROLES = ["mayor", "finance minister", "police chief", "union leader", "health director", "port manager"]
BODIES = ["the city council", "the regional government", "the central bank", "the harbour authority",
          "the health ministry", "the transport union", "the electoral commission"]
TOPICS = ["flood defences", "rail strike", "budget", "new hospital", "ferry service", "water prices",
          "election", "heat wave", "bridge repairs", "fishing quotas", "school closures", "power cuts"]
VERBS = ["announced", "rejected", "approved", "postponed", "criticised", "defended", "questioned"]
QUOTES = ["We cannot wait another year", "This is a fair compromise", "People deserve answers",
          "The numbers simply do not add up", "We will keep talking", "Nobody expected it to be this bad"]


def sentence(rng: random.Random, topic: str, place: str) -> str:
    person, role, body = rng.choice(PEOPLE), rng.choice(ROLES), rng.choice(BODIES)
    number = rng.randint(2, 9000)
    templates = [
        f"{body.capitalize()} {rng.choice(VERBS)} the plan for the {topic} in {place} on {rng.choice(['Monday', 'Tuesday', 'Friday'])}.",
        f"{person}, the {role}, said about {number:,} residents had been affected so far.",
        f'"{rng.choice(QUOTES)}," {person} told reporters outside the town hall in {place}.',
        f"Officials expect the cost of the {topic} to reach {number} million euros by next spring.",
        f"Critics said {body} had ignored warnings about the {topic} for years.",
        f"The decision follows weeks of protests, with crowds of up to {number:,} people in central {place}.",
        f"According to figures released on Aug. {rng.randint(1, 28)}, the number rose {rng.randint(2, 40)} percent.",
        f"U.S. and EU observers are due to visit {place} before the end of the month.",
    ]
    return rng.choice(templates)


def generate(corpus: Path, count: int, seed: int = 7) -> None:
    """`count` articles of 4 to 8 paragraphs of 2 to 4 sentences, with front matter."""
    rng = random.Random(seed)
    for i in range(count):
        topic, place, outlet = rng.choice(TOPICS), rng.choice(PLACES), rng.choice(OUTLETS)
        paragraphs = [" ".join(sentence(rng, topic, place) for _ in range(rng.randint(2, 4)))
                      for _ in range(rng.randint(4, 8))]
        day = 1 + i % 28
        path = corpus / f"{i // 100:02d}" / f"article-{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\ntitle: \"{topic.capitalize()}: {place} {rng.choice(VERBS)} ({i})\"\nsource: {outlet}\n"
            f"author: {rng.choice(PEOPLE)}\npublished: 2023-{1 + i % 12:02d}-{day:02d}\n"
            f"url: https://news.example/{i}\n---\n" + "\n\n".join(paragraphs) + "\n",
            encoding="utf-8")


class TimedEmbedding(MiniLMEmbedding):
    """The same model, adding up the time spent inside `embed` (to split ingestion into model and rest)."""

    seconds = 0.0

    def embed(self, texts, on_batch=None):
        started = time.perf_counter()
        try:
            return super().embed(texts, on_batch=on_batch)
        finally:
            TimedEmbedding.seconds += time.perf_counter() - started


def embed_alone(embedder: MiniLMEmbedding, texts: list[str]) -> float:
    """Seconds the bare model takes for these texts, in calls of 256 (as ingestion groups them)."""
    started = time.perf_counter()
    for start in range(0, len(texts), 256):
        embedder.embed(texts[start:start + 256])
    return time.perf_counter() - started


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, help="how many articles to generate")
    parser.add_argument("--workdir", type=Path, default=None, help="keep corpus and index here (default: temp)")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="newsdesk-ingest-bench-"))
    corpus, data = work / "corpus", work / "data"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    generate(corpus, args.articles)
    settings = load_settings(data_dir=data, env_file=None)
    embedder = TimedEmbedding(embed_batch_size=settings.embed_batch_size, num_threads=settings.embed_threads)
    embedder.embed(["warm up the model before timing anything"])
    import chromadb  # noqa: F401  (imported on the first store open otherwise)
    ingestor = Ingestor(settings, embedder)

    print(f"machine: {machine()}; load average at start {load()}")
    print(f"corpus: {args.articles} articles in {corpus}")

    # The bare model embeds the very chunk texts ingestion will embed: half of them before the
    # ingestion and half after, so that a change in the machine's load (it is shared) weighs on
    # both measurements alike.
    from newsdesk.articles import discover, parse_file

    texts = [chunk.embed_text for source in discover([corpus])[0] for article in parse_file(source)
             for chunk in ingestor.chunker.chunk(article)]
    raw_seconds = embed_alone(embedder, texts[0::2])

    TimedEmbedding.seconds = 0.0
    started = time.perf_counter()
    first = ingestor.ingest_paths([corpus])
    first_seconds = time.perf_counter() - started
    in_model = TimedEmbedding.seconds
    assert not first.failures, first.failures[:3]
    chunks = first.chunks.embedded
    ingest_rate = chunks / first_seconds
    print(f"ingest: {first.articles.new} articles, {chunks} chunks in {first_seconds:.1f} s "
          f"= {ingest_rate:.2f} chunks/s ({in_model:.1f} s in the model, {first_seconds - in_model:.1f} s in "
          f"parsing, chunking and Chroma: {100 * (first_seconds - in_model) / first_seconds:.1f}%)")

    assert len(texts) == chunks, (len(texts), chunks)
    raw_seconds += embed_alone(embedder, texts[1::2])
    tokens = embedder.count_tokens(texts)
    raw_rate = len(texts) / raw_seconds
    print(f"model alone: the same {len(texts)} chunk texts (mean {sum(tokens) / len(tokens):.0f} tokens) in "
          f"{raw_seconds:.1f} s = {raw_rate:.2f} chunks/s")
    print(f"ratio ingest/model: {ingest_rate / raw_rate:.3f} (goal >= 0.85)")

    started = time.perf_counter()
    again = ingestor.ingest_paths([corpus])
    again_seconds = time.perf_counter() - started
    assert again.chunks.embedded == 0 and again.articles.unchanged == args.articles
    print(f"unchanged re-ingest: {again_seconds:.2f} s = {100 * again_seconds / first_seconds:.2f}% of the "
          f"first run (goal < 5%)")
    print(f"load average at end {load()}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
