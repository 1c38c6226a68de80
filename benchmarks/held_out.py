"""Held-out questions for a synthetic archive: the same seed and articles as `run_eval.py`'s, but
other planted facts and other never-planted keys than the 250 questions it asks. Changes tuned on
those questions are checked on these, which nobody reads while tuning.

    python benchmarks/held_out.py --size 10k
    newsdesk eval benchmarks/.data/eval/synthetic-10k/held-out.jsonl \\
        --data-dir benchmarks/.data/eval/synthetic-10k/newsdesk

Run `run_eval.py --datasets synthetic --size SIZE` first: it builds the index these are asked of.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run_eval import SYNTHETIC_QUESTIONS, SYNTHETIC_SEED, SYNTHETIC_UNPLANTED, WORK  # noqa: E402
from newsdesk.evaluation import load_questions, write_questions  # noqa: E402
from newsdesk.synthetic_archive import SIZES, generate  # noqa: E402


def held_out(size: str, answerable: int = 500, unanswerable: int = 300):
    """Questions about facts and keys the evaluation's own questions do not use."""
    asked = load_questions(WORK / f"synthetic-{size}" / "questions.jsonl")
    asked_texts = {q.question for q in asked}
    asked_facts = {(q.evidence[0], q.passages[0]) for q in asked if q.evidence and q.passages}
    # As many more as the evaluation asks, whose questions and facts are then left out.
    archive = generate(SIZES[size], seed=SYNTHETIC_SEED, questions=answerable + SYNTHETIC_QUESTIONS,
                       unplanted=unanswerable + SYNTHETIC_UNPLANTED)
    fresh = [q for q in archive.questions
             if q.question not in asked_texts
             and not (q.evidence and q.passages and (q.evidence[0], q.passages[0]) in asked_facts)]
    chosen = [q for q in fresh if q.evidence][:answerable] + [q for q in fresh if not q.evidence][:unanswerable]
    return [q.model_copy(update={"id": f"held-{number:04d}"}) for number, q in enumerate(chosen)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1k", choices=sorted(SIZES))
    args = parser.parse_args(argv)
    if not (WORK / f"synthetic-{args.size}" / "questions.jsonl").is_file():
        raise SystemExit(f"run `python benchmarks/run_eval.py --datasets synthetic --size {args.size}` first")
    questions = held_out(args.size)
    out = WORK / f"synthetic-{args.size}" / "held-out.jsonl"
    write_questions(out, questions)
    answerable = sum(1 for q in questions if q.evidence)
    print(f"{out}: {answerable} answerable, {len(questions) - answerable} never-planted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
