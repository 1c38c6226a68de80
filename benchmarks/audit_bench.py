"""Figures for the audit store: answers recorded per second (1 and 8 threads), the hidden-set read the
engine makes on every question, a listing page, a full record. Prints them; asserts nothing.

    python benchmarks/audit_bench.py [--answers 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from newsdesk.audit import AnswerFilter, AuditStore
from newsdesk.results import AnswerResult, Citation, Retrieved, Turn

PASSAGE = ("More than 3,000 Russians crossed at the Altanbulag checkpoint on Monday alone, Mongolian border "
           "officials said, a number that has kept climbing every day since the order was announced. ") * 4


def sample(i: int) -> AnswerResult:
    """An answer the size of a real one: 3 citations of ~800 characters, 8 retrieved."""
    citations = [Citation(n=n, article_id=f"article-{i % 97}-{n}", chunk_id=f"{i:016x}:{n:016x}:{n}", title="Title",
                          source="AFP", published="2022-09-29", url="https://example.org/a", text=PASSAGE,
                          start=100 * n, end=100 * n + len(PASSAGE), author="Author", quote=PASSAGE[:120])
                 for n in (1, 2, 3)]
    retrieved = [Retrieved(article_id=f"article-{k}", chunk_id=f"chunk-{k}", score=0.9 - k / 20) for k in range(8)]
    return AnswerResult(question=f"How many crossed? #{i}", answer="More than 3,000 [1] [2] [3].", refused=False,
                        citations=citations, retrieved=retrieved, answerer="extractive", latency_ms=120.0)


def timed(label: str, count: int, fn) -> None:
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {count / seconds:10.0f} /s   ({seconds * 1000 / count:.3f} ms each)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=2000)
    args = parser.parse_args()
    results = [sample(i) for i in range(args.answers)]
    turns = [Turn(question="Earlier question?", answer="Earlier answer [1].")]
    with tempfile.TemporaryDirectory() as folder, AuditStore(Path(folder) / "audit.sqlite3") as store:
        def one_thread() -> None:
            for i, result in enumerate(results):
                store.record_answer(result, front_end="eval", asker_id=str(i % 50), turns=turns)

        timed("record_answer, 1 thread", len(results), one_thread)

        def eight_threads() -> None:
            def work(part: int) -> None:
                for result in results[part::8]:
                    answer_id = store.record_answer(result, front_end="discord", asker_id=str(part))
                    store.set_feedback(answer_id, f"v{part}", -1 if part % 2 else 1)

            threads = [threading.Thread(target=work, args=(part,)) for part in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        timed("record_answer + vote, 8 threads", len(results), eight_threads)
        for k in range(20):
            store.hide_article(f"article-{k}-1", moderator_id="bench")
        timed("hidden_articles() (20 hidden)", 5000, lambda: [store.hidden_articles() for _ in range(5000)])
        timed("list_answers page of 20 (newest)", 200, lambda: [store.list_answers(limit=20) for _ in range(200)])
        timed("list_answers flagged, page 3", 200,
              lambda: [store.list_answers(AnswerFilter(flagged=True), limit=20, offset=40) for _ in range(200)])
        ids = [item.id for item in store.list_answers(limit=200).items]
        timed("get_answer (full record)", len(ids), lambda: [store.get_answer(i) for i in ids])
        size = store.path.stat().st_size / 1e6
        print(f"{2 * len(results)} answers: database {size:.1f} MB")


if __name__ == "__main__":
    main()
