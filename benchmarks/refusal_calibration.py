"""How REFUSAL_THRESHOLD was chosen: refusal and false-refusal rates at every threshold.

    python benchmarks/refusal_calibration.py NAME=QUESTIONS.jsonl:DATA_DIR [NAME=...] [--save signals.json]

Runs every question through the engine with the threshold at 0 (so nothing is refused) and
records the extractive answerer's evidence signals; then, for thresholds from 0.20 to 0.50,
prints per data set the share of no-evidence questions refused and of answerable questions
falsely refused. The threshold to pick keeps false refusals at or under 5% everywhere while
refusing as many no-evidence questions as it can.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsdesk.answering import COMPOUND_THRESHOLD_FACTOR  # noqa: E402
from newsdesk.config import load_settings  # noqa: E402
from newsdesk.engine import Engine  # noqa: E402
from newsdesk.evaluation import load_questions  # noqa: E402


def collect(questions_path: str, data_dir: str) -> list[dict]:
    engine = Engine(load_settings(data_dir=data_dir, env_file=None, refusal_threshold=0.0))
    rows = []
    for question in load_questions(questions_path):
        result = engine.ask(question.question)
        rows.append({"id": question.id, "type": question.type, "answerable": bool(question.evidence),
                     **(result.evidence or {"score": 0.0})})
    return rows


def below(row: dict, threshold: float) -> bool:
    """Refused at this threshold (compound questions get `COMPOUND_THRESHOLD_FACTOR` of it)."""
    return row["score"] < threshold * (COMPOUND_THRESHOLD_FACTOR if row.get("compound") else 1.0)


def table(signals: dict[str, list[dict]]) -> None:
    names = list(signals)
    print("threshold  " + "  ".join(f"{n + ' refused':>18} {n + ' false':>16}" for n in names))
    for step in range(20, 51, 2):
        threshold = step / 100
        cells = []
        for name in names:
            rows = signals[name]
            null = [r for r in rows if not r["answerable"]]
            real = [r for r in rows if r["answerable"]]
            refused = sum(below(r, threshold) for r in null) / len(null) if null else float("nan")
            false = sum(below(r, threshold) for r in real) / len(real) if real else float("nan")
            cells.append(f"{refused:>18.3f} {false:>16.3f}")
        print(f"{threshold:>9.2f}  " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="NAME=QUESTIONS.jsonl:DATA_DIR")
    parser.add_argument("--save", type=Path, help="write the raw signals here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    signals = {}
    for spec in args.sets:
        name, rest = spec.split("=", 1)
        questions, data_dir = rest.rsplit(":", 1)
        signals[name] = collect(questions, data_dir)
    if args.save:
        args.save.write_text(json.dumps(signals))
    table(signals)


if __name__ == "__main__":
    main()
