"""``avatarchat avatar list|validate``: output and exit codes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_list_shows_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "avatar", "list")
    assert code == 0
    for avatar_id in ("aria", "fox", "bolt", "mochi"):
        assert avatar_id in out
    assert "brunette*" in out  # the default variant is marked


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out = run(capsys, "avatar", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and {r["id"] for r in rows} >= {"aria", "fox", "bolt", "mochi"}
    assert all(len(r["hash"]) == 64 and len(r["variants"]) >= 2 for r in rows)


def test_validate_ok(capsys: pytest.CaptureFixture[str], valid_pack: Path) -> None:
    code, out = run(capsys, "avatar", "validate", str(valid_pack))
    assert code == 0 and out.startswith("OK testy 0.1.0") and "sha256:" in out


def test_validate_lists_each_problem(capsys: pytest.CaptureFixture[str], valid_pack: Path) -> None:
    (valid_pack / "layers/eye.png").unlink()
    text = (valid_pack / "avatar.toml").read_text().replace('"headYaw"', '"headYaww"')
    (valid_pack / "avatar.toml").write_text(text)
    code, out = run(capsys, "avatar", "validate", str(valid_pack))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("INVALID") and "2 problem(s)" in lines[0]
    assert any("'layers/eye.png' does not exist" in ln for ln in lines[1:])
    assert any("unknown parameter 'headYaww'" in ln for ln in lines[1:])


@pytest.mark.parametrize("target", ["/no/such/pack", "/etc/hostname", "."])
def test_validate_bad_input_no_traceback(target: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "avatar", "validate", target],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "INVALID" in proc.stdout


def test_show_writes_a_posed_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "fox.png"
    code, text = run(
        capsys,
        "avatar",
        "show",
        "fox",
        "--variant",
        "arctic",
        "--set",
        "jawOpen=1",
        "--size",
        "128",
        "--out",
        str(out),
    )
    assert code == 0 and "fox/arctic" in text
    assert Image.open(out).size == (128, 128)


def test_show_in_terminal_and_bad_params(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = run(capsys, "avatar", "show", "mochi", "--columns", "20")
    assert code == 0 and "\x1b[38;2;" in text and len(text.splitlines()) == 10
    assert run(capsys, "avatar", "show", "mochi", "--set", "nope=1")[0] == 1
    assert run(capsys, "avatar", "show", "mochi", "--set", "jawOpen=x")[0] == 1
    code, text = run(capsys, "avatar", "show", "mochi", "--variant", "plain")
    assert code == 1 and "no variant 'plain'" in text


def test_zip_round_trip(
    capsys: pytest.CaptureFixture[str], valid_pack: Path, tmp_path: Path
) -> None:
    from avatars import load_pack

    out = tmp_path / "testy.zip"
    code, text = run(capsys, "avatar", "zip", str(valid_pack), "--out", str(out))
    digest = load_pack(valid_pack).content_hash
    assert code == 0 and digest in text
    assert load_pack(out).content_hash == digest
    code, text = run(capsys, "avatar", "validate", str(out))
    assert code == 0 and digest in text
    (valid_pack / "layers/eye.png").unlink()
    assert run(capsys, "avatar", "zip", str(valid_pack), "--out", str(out))[0] == 1
