"""Settings that cannot work are refused up front, naming the setting, before any model loads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from newsdesk.cli import main
from newsdesk.config import load_settings


@pytest.mark.parametrize("name, value", [("EMBED_BATCH_SIZE", "0"), ("EMBED_THREADS", "-1"), ("TOP_K", "0"),
                                         ("MAX_CHUNKS_PER_ARTICLE", "0"), ("REFUSAL_THRESHOLD", "nan"),
                                         ("REFUSAL_THRESHOLD", "-0.1"), ("REFUSAL_THRESHOLD", "1.5")])
def test_a_setting_out_of_range_is_named(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        load_settings(data_dir=tmp_path, env_file=None)


def test_the_cli_says_which_setting_and_exits_2(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBED_BATCH_SIZE", "0")
    (tmp_path / "a.txt").write_text("A short article about the harbour bridge.")
    assert main(["ingest", str(tmp_path / "a.txt"), "--data-dir", str(tmp_path / "data")]) == 2
    assert "invalid setting EMBED_BATCH_SIZE" in capsys.readouterr().err


def test_env_example_documents_every_setting_with_its_default():
    from pathlib import Path

    from newsdesk.config import Settings

    example = Path(__file__).resolve().parent.parent / ".env.example"
    documented = {}
    for line in example.read_text().splitlines():
        line = line.strip().lstrip("#").strip()
        if "=" in line and line.split("=", 1)[0].isupper():
            name, value = line.split("=", 1)
            documented[name] = value
    for field in Settings.model_fields.values():
        name = field.validation_alias
        if not isinstance(name, str):
            continue
        assert name in documented, f"{name} is missing from .env.example"
        default = field.default
        if isinstance(default, bool):
            assert documented[name].lower() == str(default).lower(), name
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            assert float(documented[name]) == float(default), name
