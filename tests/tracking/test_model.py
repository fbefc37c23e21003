"""The vendored model: pinned, verified on load, and clear errors when it is missing or bad."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracking.errors import ModelError
from tracking.model import DEFAULT_MODEL, MODEL_SHA256, load_model_bytes


def test_vendored_model_matches_the_pin_and_has_a_notice() -> None:
    assert hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest() == MODEL_SHA256
    notice = (DEFAULT_MODEL.parent / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and MODEL_SHA256 in notice
    assert len(load_model_bytes()) == 3_758_596


def test_missing_and_corrupt_models_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_model_bytes(tmp_path / "nope.task")
    bad = tmp_path / "bad.task"
    bad.write_bytes(DEFAULT_MODEL.read_bytes()[:100_000])
    with pytest.raises(ModelError, match="corrupt"):
        load_model_bytes(bad)
    with pytest.raises(ModelError, match="directory"):
        load_model_bytes(tmp_path)
    copy = tmp_path / "copy.task"
    shutil.copy(DEFAULT_MODEL, copy)
    assert load_model_bytes(copy) == DEFAULT_MODEL.read_bytes()


def test_truncated_model_without_the_check_still_fails_cleanly(tmp_path: Path) -> None:
    """Even with the digest check off, MediaPipe's failure becomes a ModelError, not a crash."""
    from tracking.model import create_landmarker

    bad = tmp_path / "bad.task"
    bad.write_bytes(b"PK\x03\x04 not really a model")
    with pytest.raises(ModelError, match="cannot load"):
        create_landmarker(load_model_bytes(bad, sha256=None))


@pytest.mark.parametrize("json_mode", [True, False])
def test_cli_reports_a_bad_model_in_one_line_and_exits_2(tmp_path: Path, json_mode: bool) -> None:
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"\0" * 1000)
    args = [sys.executable, "-m", "tracking", "--model", str(bad), "--max-frames", "1"]
    proc = subprocess.run(
        [*args, "--json"] if json_mode else args,
        capture_output=True,
        text=True,
        timeout=60,
        input="",
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("tracking: face landmarker model")
    if json_mode:
        assert proc.stdout == ""
    else:
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        assert events[-1]["event"] == "error" and events[-1]["fatal"] is True
        assert "corrupt" in events[-1]["message"]
