"""newsdesk beside plain llama-index on the same corpora and questions, in one run.

    python benchmarks/run_eval.py                                 # seeds, multihop, synthetic 1k
    python benchmarks/run_eval.py --datasets multihop             # one data set
    python benchmarks/run_eval.py --datasets synthetic --size 10k # a bigger archive (~15 min to embed)
    python benchmarks/run_eval.py --systems newsdesk              # the baseline's last figures kept

Data sets: `seeds` (seeds/ and benchmarks/questions/seeds.jsonl), `multihop` (the MultiHop-RAG
facts corpus, converted from ../shared/bench/multihop), `synthetic` (generated, seed 7). Indexes
and reports go to benchmarks/.data/eval/<data set>/; re-runs reuse an index whose corpus is
unchanged. Each report is written as JSON beside a Markdown table (results.md) that
benchmarks/README.md quotes.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from newsdesk.articles import Article, discover, parse_file  # noqa: E402
from newsdesk.config import load_settings  # noqa: E402
from newsdesk.evaluation import (  # noqa: E402
    EvalReport,
    evaluate,
    evaluate_engine,
    format_markdown,
    load_questions,
    tqdm_wrapper,
)

WORK = ROOT / "benchmarks" / ".data" / "eval"
SHARED_BENCH = ROOT.parent / "shared" / "bench"
DATASETS = ("seeds", "multihop", "synthetic")
SYSTEMS = ("newsdesk", "baseline")
SYNTHETIC_SEED = 7
SYNTHETIC_QUESTIONS = 200
"""Planted-fact questions asked of each synthetic archive."""
SYNTHETIC_UNPLANTED = 50
"""Questions about facts that were never planted."""


def prepare(dataset: str, size: str, work: Path, bench: Path) -> tuple[Path, Path, str]:
    """The corpus path, the questions file and the attribution line for one data set."""
    if dataset == "seeds":
        return ROOT / "seeds", ROOT / "benchmarks" / "questions" / "seeds.jsonl", \
            "seeds/: one AFP article (2022); questions written for newsdesk"
    if dataset == "multihop":
        from newsdesk.evaluation_data import MULTIHOP_ATTRIBUTION, build_multihop

        built = build_multihop(bench / "multihop", work)
        return built.corpus, built.questions, MULTIHOP_ATTRIBUTION
    if dataset == "synthetic":
        from newsdesk.synthetic_archive import ATTRIBUTION, SIZES, generate, write_archive

        # Regenerated every run (seconds even at 100k chunks); unchanged articles are not embedded again.
        archive = generate(SIZES[size], seed=SYNTHETIC_SEED, questions=SYNTHETIC_QUESTIONS,
                           unplanted=SYNTHETIC_UNPLANTED)
        corpus, questions = write_archive(archive, work)
        return corpus, questions, f"{ATTRIBUTION}; {SIZES[size]} articles, seed {SYNTHETIC_SEED}"
    raise SystemExit(f"unknown data set {dataset!r}; choose from {', '.join(DATASETS)}")


def read_articles(corpus: Path) -> list[Article]:
    files, _ = discover([corpus])
    return [a for f in files for a in parse_file(f) if isinstance(a, Article)]


def run_newsdesk(corpus: Path, questions: Path, work: Path, embedder, k: int) -> tuple[EvalReport, str]:
    from newsdesk.engine import Engine
    from newsdesk.ingestion import Ingestor

    settings = load_settings(data_dir=work / "newsdesk", env_file=None)
    summary = Ingestor(settings, embedder=embedder).ingest_paths([corpus], prune=True)
    engine = Engine(settings, embedder=embedder)
    report = evaluate_engine(settings, questions, k=k, progress=True, engine=engine)
    build = (f"newsdesk index: {summary.chunks.total} chunks; this run embedded {summary.chunks.embedded} "
             f"in {summary.seconds:.0f} s")
    return report, build


def run_baseline(corpus: Path, questions: Path, work: Path, embedder, k: int) -> tuple[EvalReport, str]:
    from baseline import SYSTEM, LlamaIndexBaseline

    baseline = LlamaIndexBaseline(work / "baseline", embedder, top_k=k).build(read_articles(corpus))
    report = retrieval_only(evaluate(
        load_questions(questions), baseline.ask, k=k, system=SYSTEM, questions_file=str(questions),
        progress=tqdm_wrapper(True),
        notes=["retrieval only: no answerer (its 'answer' would be a whole 1,024-token chunk), never refuses"]))
    build = f"baseline index: {baseline.chunks} chunks (1,024-token splitter), built in {baseline.build_seconds:.0f} s"
    return report, build


def retrieval_only(report: EvalReport) -> EvalReport:
    """Blank the answer-side figures of a system that has no answerer."""
    blank = {"citation_precision": None, "passage_hit": None, "answer_accuracy": None}
    for metrics in [report.overall, *report.per_type.values()]:
        for name, value in blank.items():
            setattr(metrics, name, value)
    return report


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        memory = 0.0
    return f"{os.cpu_count()} cores, {cpu}, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: " + ", ".join(SYSTEMS))
    parser.add_argument("--size", default="1k", choices=["1k", "10k", "100k"], help="synthetic archive size")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--work", type=Path, default=WORK, help=f"indexes and reports (default {WORK})")
    parser.add_argument("--bench", type=Path, default=SHARED_BENCH,
                        help=f"the shared benchmark data (default {SHARED_BENCH})")
    args = parser.parse_args(argv)

    from newsdesk.embedding import load_embedder

    embedder = load_embedder()
    runners = {"newsdesk": run_newsdesk, "baseline": run_baseline}
    sections = [f"Machine: {machine()}.", ""]
    for dataset in args.datasets.split(","):
        name = f"synthetic-{args.size}" if dataset == "synthetic" else dataset
        work = args.work / name
        work.mkdir(parents=True, exist_ok=True)
        corpus, questions, attribution = prepare(dataset, args.size, work, args.bench)
        reports, builds = [], []
        chosen = args.systems.split(",")
        for system in SYSTEMS:
            saved = work / f"report-{system}.json"
            if system not in chosen:
                # A system not run this time keeps its last report in the table, said so.
                if saved.is_file():
                    report = EvalReport.model_validate_json(saved.read_text())
                    reports.append(report)
                    builds.append(f"{report.system}: figures from the saved run of {report.created}")
                continue
            started = time.perf_counter()
            report, build = runners[system](corpus, questions, work, embedder, args.k)
            saved.write_text(report.model_dump_json(indent=1) + "\n")
            reports.append(report)
            builds.append(f"{build}; evaluation {time.perf_counter() - started:.0f} s in all")
        table = format_markdown(reports)
        section = "\n".join([f"### {name}", "", table, "", *[f"- {line}" for line in builds],
                             f"- data: {attribution}", ""])
        (work / "results.md").write_text(section)
        print(section, flush=True)
        sections.append(section)
    (args.work / "results.md").write_text("\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
