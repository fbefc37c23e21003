"""The TUI's plain-Python parts: settings, pasted join text, pictures, stats, messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from protocol.signaling import new_room_code
from tui.devices import list_cameras, list_sources
from tui.halfblock import HalfBlocks, image_pixels, qr_matrix, qr_text_lines
from tui.invite import join_command, write_room_file
from tui.joinparse import parse_join_text
from tui.readable import readable_error, state_label
from tui.settings import Settings, load_settings, save_settings, settings_path

from .conftest import ROOM

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


def test_settings_round_trip_in_config_dir(config_dir: Path) -> None:
    s = Settings(
        display_name="지민",
        relay="ws://10.0.0.5:8765",
        turn_url="turn:t:3478",
        turn_username="u",
        turn_credential="p",
        smoothing=0.8,
        mirror=False,
        default_avatar="fox",
    )
    path = save_settings(s)
    assert path == settings_path() == config_dir / "settings.toml"
    assert os.stat(path).st_mode & 0o777 == 0o600  # may hold a TURN secret
    assert load_settings() == s
    assert "지민" in path.read_text(encoding="utf-8")


def test_settings_missing_or_broken_give_defaults(config_dir: Path) -> None:
    assert load_settings() == Settings()
    config_dir.mkdir(parents=True)
    settings_path().write_text("this is [not toml", encoding="utf-8")
    assert load_settings() == Settings()
    settings_path().write_text(
        'smoothing = 7\nmirror = "yes"\ndisplay_name = 3\nunknown = 1\n', encoding="utf-8"
    )
    loaded = load_settings()
    assert (loaded.smoothing, loaded.mirror, loaded.display_name) == (1.0, False, "")


def test_parse_join_text_accepts_code_or_whole_command() -> None:
    code = new_room_code()
    assert parse_join_text(code).room == code  # type: ignore[union-attr]
    target = parse_join_text(f"  avatarchat-tui --relay ws://10.1.2.3:9000 --join {code}\n")
    assert target is not None and (target.room, target.relay) == (code, "ws://10.1.2.3:9000")
    target = parse_join_text(f"'avatarchat-tui' --join={code} --relay=ws://h:1")
    assert target is not None and (target.room, target.relay) == (code, "ws://h:1")
    assert parse_join_text("short") is None
    assert parse_join_text("") is None
    assert parse_join_text("avatarchat-tui --join 'unterminated") is None


def test_join_command_and_room_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert (
        join_command("ws://1.2.3.4:5", ROOM)
        == f"avatarchat-tui --relay ws://1.2.3.4:5 --join {ROOM}"
    )
    target = tmp_path / "room.json"
    monkeypatch.setenv("AVATARCHAT_ROOM_FILE", str(target))
    write_room_file(ROOM, "ws://1.2.3.4:5")
    assert ROOM in target.read_text()


def test_qr_code_round_trips_structure() -> None:
    data = join_command("ws://192.168.1.20:40000", ROOM)
    matrix = qr_matrix(data, border=2)
    size = len(matrix)
    assert size == len(matrix[0]) and size >= 25
    # Finder pattern: the top-left 7x7 square's border is dark (after the 2-module quiet zone).
    assert all(matrix[2][2 + i] for i in range(7))
    assert not any(matrix[0])  # quiet zone is light
    lines = qr_text_lines(data)
    assert len(lines) == (size + 1) // 2
    assert set("".join(lines)) <= set("█▀▄ ")


def test_half_blocks_encode_two_pixels_per_cell() -> None:
    from PIL import Image

    img = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    for x in range(4):
        for y in range(2, 4):
            img.putpixel((x, y), (0, 0, 255, 255))
    pixels = image_pixels(img, 4, 2)
    blocks = HalfBlocks(pixels)
    assert (blocks.width, blocks.height) == (4, 2)
    console = Console(width=10, color_system="truecolor", force_terminal=True, record=True)
    console.print(blocks)
    text = console.export_text()
    assert text.splitlines()[0] == "▀▀▀▀"
    top_line = blocks.lines()[0][0]
    assert top_line.style is not None and top_line.style.color is not None
    assert top_line.style.color.triplet == (255, 0, 0)


def test_readable_error_never_shows_a_traceback() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/x/tracking/runner.py", line 10, in run\n'
        "    raise RuntimeError('boom')\n"
        "RuntimeError: cannot open camera /dev/video0\n"
    )
    assert (
        readable_error(tb, "tracking")
        == "Face tracking: RuntimeError: cannot open camera /dev/video0"
    )
    assert (
        readable_error("tracking exited with code 1", "tracking") == "tracking exited with code 1"
    )
    assert len(readable_error("x" * 1000)) <= 240
    assert readable_error("") == "unknown error"
    assert state_label("peer_left") == "Peer left"


def test_devices_list_cameras_by_name(tmp_path: Path) -> None:
    v4l = tmp_path / "video4linux"
    for index, name in ((0, "Integrated Camera"), (10, "Loopback")):
        (v4l / f"video{index}").mkdir(parents=True)
        (v4l / f"video{index}" / "name").write_text(name + "\n")
    cams = list_cameras(v4l)
    assert [c.spec for c in cams] == ["/dev/video0", "/dev/video10"]
    assert cams[0].label.startswith("Integrated Camera")
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "a.mp4").write_bytes(b"")
    (faces / "b.txt").write_bytes(b"")
    specs = [s.spec for s in list_sources(tmp_path / "none", faces)]
    assert specs == ["sample", str(faces / "a.mp4")]


def test_created_room_codes_never_look_like_options() -> None:
    from protocol.signaling import ROOM_CODE_RE, new_room_code

    codes = [new_room_code() for _ in range(2000)]
    assert all(ROOM_CODE_RE.match(c) and not c.startswith("-") for c in codes)
    assert len(set(codes)) == len(codes)
