"""`newsdesk ingest` run as a user runs it: exit codes, the summary, bad files, a server, a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ingest_support import (PROJECT_ROOT, SUMMARY_KEYS, assert_index_is_exactly, cli_env,
                            current_articles, free_port, make_settings, run_cli, run_ingest_json, write_article)
from newsdesk.embedding import DIMENSION, MODEL_ID
from newsdesk.ingestion import Ingestor
from newsdesk.store import ChunkStore

SEEDS = PROJECT_ROOT / "seeds"


def assert_one_line_error(completed: subprocess.CompletedProcess, *fragments: str) -> None:
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsdesk: "), completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_seeds_ingest_then_unchanged_reingest_through_both_entry_points(tmp_path):
    code, summary = run_ingest_json(str(SEEDS), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert code == 0
    assert set(summary) == SUMMARY_KEYS
    assert set(summary["articles"]) == {"new", "updated", "unchanged", "removed", "failed"}
    assert set(summary["chunks"]) == {"embedded", "deleted", "total"}
    assert summary["articles"]["new"] == 1 and summary["failures"] == []
    assert summary["chunks"]["embedded"] == summary["chunks"]["total"] >= 3
    assert isinstance(summary["seconds"], float)

    again = subprocess.run([sys.executable, str(PROJECT_ROOT / "ingest.py"), str(SEEDS), "--json",
                            "--data-dir", str(tmp_path / "data")], cwd=tmp_path, env=cli_env(),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["articles"]["unchanged"] == 1
    assert second["chunks"]["embedded"] == 0 and second["chunks"]["total"] == summary["chunks"]["total"]


def test_the_data_dir_comes_from_the_environment_and_the_summary_reads_well(tmp_path):
    completed = run_cli("ingest", str(SEEDS), cwd=tmp_path, NEWSDESK_DATA_DIR=str(tmp_path / "env-data"))
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert lines[0] == "articles: 1 new, 0 updated, 0 unchanged, 0 removed, 0 failed"
    assert lines[1].startswith("chunks: ") and " embedded, 0 deleted, " in lines[1]
    assert lines[2].endswith("chunks/s")
    assert (tmp_path / "env-data" / "chroma").is_dir()
    assert completed.stderr == "", "no progress bar when stderr is not a terminal"


def test_a_progress_bar_on_a_terminal_and_none_with_quiet(tmp_path):
    import pty

    def stderr_on_a_terminal(*extra: str) -> str:
        controller, terminal = pty.openpty()
        process = subprocess.Popen([sys.executable, "-m", "newsdesk", "ingest", str(SEEDS), "--rebuild",
                                    "--data-dir", str(tmp_path / "data"), *extra],
                                   cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL, stderr=terminal)
        os.close(terminal)
        output = b""
        while True:
            try:
                block = os.read(controller, 4096)
            except OSError:  # EIO: the process closed its end
                break
            if not block:
                break
            output += block
        os.close(controller)
        assert process.wait(timeout=300) == 0
        return output.decode(errors="replace")

    shown = stderr_on_a_terminal()
    assert "embedding" in shown and "chunk" in shown
    assert stderr_on_a_terminal("--quiet") == ""


def test_bad_files_are_reported_the_rest_indexed_exit_1(tmp_path):
    corpus = tmp_path / "corpus"
    write_article(corpus, "good.txt", "Good story", "It went well.")
    (corpus / "latin1.txt").write_bytes("Caf\xe9\nBody\n".encode("latin-1"))
    (corpus / "empty.txt").write_text("")
    (corpus / "broken.json").write_text("{oops")
    (corpus / "binary.md").write_bytes(bytes(range(256)))
    (corpus / "mixed.jsonl").write_text('{"title": "Fine", "body": "A fine line."}\nnot json\n')
    code, summary = run_ingest_json(str(corpus), "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert code == 1
    failures = {Path(f["path"]).name: f["error"] for f in summary["failures"]}
    assert set(failures) == {"latin1.txt", "empty.txt", "broken.json", "binary.md", "mixed.jsonl"}
    assert all(set(f) == {"path", "error"} for f in summary["failures"])
    assert failures["latin1.txt"].startswith("not UTF-8")
    assert failures["empty.txt"] == "empty file"
    assert failures["broken.json"].startswith("malformed JSON")
    assert failures["binary.md"] == "binary file, not text"
    assert failures["mixed.jsonl"].startswith("line 2: malformed JSON")
    assert summary["articles"]["new"] == 2 and summary["articles"]["failed"] == 5


def test_usage_errors_exit_2_with_one_line(tmp_path):
    missing = run_cli("ingest", str(tmp_path / "no-such-folder"), "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert_one_line_error(missing, "no such file or folder", "no-such-folder")

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    unwritable = run_cli("ingest", str(SEEDS), "--data-dir", str(blocker / "data"), cwd=tmp_path)
    assert_one_line_error(unwritable, "data directory", str(blocker))


def test_a_chroma_server_that_is_down_exits_2_naming_it(tmp_path):
    port = free_port()
    completed = run_cli("ingest", str(SEEDS), "--data-dir", str(tmp_path / "d"), cwd=tmp_path, timeout=120,
                        CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port), CHROMA_TIMEOUT_SECONDS="2")
    assert_one_line_error(completed, f"127.0.0.1:{port}", "CHROMA_HOST")


def test_an_index_from_another_model_needs_rebuild(tmp_path):
    data = tmp_path / "data"
    assert run_ingest_json(str(SEEDS), "--data-dir", str(data), cwd=tmp_path)[0] == 0
    store = ChunkStore.open(make_settings(data), MODEL_ID, DIMENSION, create=False)
    metadata = {k: v for k, v in store._fresh_metadata().items() if not k.startswith("hnsw:")}
    store._chunks.modify(metadata={**metadata, "embedding_model": "bge-small-en", "embedding_dimension": 384})
    refused = run_cli("ingest", str(SEEDS), "--data-dir", str(data), cwd=tmp_path)
    assert_one_line_error(refused, "bge-small-en", "run `newsdesk ingest --rebuild`")
    code, summary = run_ingest_json(str(SEEDS), "--rebuild", "--data-dir", str(data), cwd=tmp_path)
    assert code == 0 and summary["articles"]["new"] == 1


@pytest.mark.server
def test_ingest_and_reingest_against_a_chroma_server(tmp_path, chroma_server):
    corpus = tmp_path / "corpus"
    write_article(corpus, "a.txt", "Alpha", "The first story.")
    write_article(corpus, "b.txt", "Beta", "The second story.")
    env = chroma_server.env(collection=f"cli{uuid.uuid4().hex[:10]}")
    data = ["--data-dir", str(tmp_path / "data")]
    code, first = run_ingest_json(str(corpus), *data, cwd=tmp_path, **env)
    assert code == 0 and first["articles"]["new"] == 2
    assert not (tmp_path / "data" / "chroma").exists(), "with CHROMA_HOST the embedded store is not used"
    write_article(corpus, "a.txt", "Alpha", "The first story, corrected.")
    (corpus / "b.txt").unlink()
    code, second = run_ingest_json(str(corpus), "--prune", *data, cwd=tmp_path, **env)
    assert code == 0
    assert second["articles"] == {"new": 0, "updated": 1, "unchanged": 0, "removed": 1, "failed": 0}
    assert second["chunks"]["total"] == 1
    settings = chroma_server.settings(tmp_path / "data", env["NEWSDESK_COLLECTION"])
    from newsdesk.embedding import load_embedder
    assert_index_is_exactly(Ingestor(settings, load_embedder()), current_articles([corpus]))


# -- SIGKILL in the middle of a run ---------------------------------------------------------

def many_small_articles(root: Path, count: int, edition: str = "") -> None:
    for i in range(count):
        write_article(root, f"{i // 100:02d}/story-{i:04d}.txt", f"Story {i}{edition}",
                      f"Town {i} opened a library {edition}on day {i % 28 + 1}.")


def ingest_until_killed(corpus: Path, data: Path, cwd: Path, *extra: str) -> None:
    """Start an ingestion, wait until it has stored its first group of chunks, and SIGKILL it."""
    process = subprocess.Popen([sys.executable, "-m", "newsdesk", "-v", "ingest", str(corpus), "--quiet",
                                "--data-dir", str(data), *extra],
                               cwd=cwd, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        for line in process.stderr:
            if "newsdesk.ingestion: stored" in line:
                os.kill(process.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the ingestion ended without storing anything")
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL


def count_chunks(data: Path) -> int:
    return ChunkStore.open(make_settings(data), MODEL_ID, DIMENSION, create=False).count()


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_leaves_exactly_the_current_chunks(tmp_path, embedder):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    many_small_articles(corpus, 400)

    ingest_until_killed(corpus, data, tmp_path)
    assert 0 < count_chunks(data) < 400, "the kill came in the middle of the run"
    code, summary = run_ingest_json(str(corpus), "--data-dir", str(data), cwd=tmp_path)
    assert code == 0 and summary["chunks"]["total"] == 400
    assert summary["chunks"]["embedded"] < 400, "chunks stored before the kill are not embedded again"

    # Kill an update run too: old and new versions side by side, texts half replaced.
    many_small_articles(corpus, 400, edition="(2nd edition) ")
    for path in sorted(corpus.rglob("story-00[0-4]*.txt")):
        path.unlink()
    ingest_until_killed(corpus, data, tmp_path, "--prune")
    code, summary = run_ingest_json(str(corpus), "--prune", "--data-dir", str(data), cwd=tmp_path)
    assert code == 0
    assert summary["chunks"]["total"] == 350 and summary["articles"]["removed"] == 50

    assert_index_is_exactly(Ingestor(make_settings(data), embedder), current_articles([corpus]))
