"""The command line in Korean: ``avatarchat call``'s status lines and the TUI's start-up errors,
as a person reads them on the terminal. English output stays exactly what scripts parse."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import i18n
from call import RelayStarted
from cli.cmd_call import CallPrinter
from protocol.events import ChatReceived, Error, OverlayShown, PeerHello, Status


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    i18n.set_language("en")


def _lines(language: str) -> list[str]:
    i18n.set_language(language)
    out = io.StringIO()
    printer = CallPrinter(stream=out)
    printer("peer", Status(state="waiting", message="in the room (position 1)"))
    printer("peer", PeerHello(name="민수", avatar_id="fox"))
    printer("peer", Status(state="connected", message="connected (host path)"))
    printer("peer", ChatReceived(text="안녕하세요", sender="민수"))
    printer("render", OverlayShown(state="peer_left"))
    printer("render", OverlayShown(state=""))
    printer("call", RelayStarted(share_url="ws://127.0.0.1:4000", port=4000, lan=False))
    printer("render", Error(message="bad thing"))
    return out.getvalue().splitlines()


def test_call_status_lines_in_korean() -> None:
    assert _lines("ko") == [
        "기다리는 중: in the room (position 1)",
        "상대: 민수 (아바타 fox)",
        "연결됨: connected (host path)",
        "<민수> 안녕하세요",
        "창: 상대가 나감",
        "창: 실시간",
        "로컬 릴레이: ws://127.0.0.1:4000 (상대는 --relay ws://127.0.0.1:4000 로 참여합니다, "
        "이 컴퓨터에서만: --lan 을 주면 같은 네트워크에서도 참여할 수 있습니다)",
        "오류 (render): bad thing",
    ]


def test_call_status_lines_in_english_are_unchanged() -> None:
    """Scripts and tests match these (``connected: ...``, ``window: peer_left``)."""
    assert _lines("en") == [
        "waiting: in the room (position 1)",
        "peer: 민수 (avatar fox)",
        "connected: connected (host path)",
        "<민수> 안녕하세요",
        "window: peer_left",
        "window: live",
        "local relay: ws://127.0.0.1:4000 (the peer joins with --relay ws://127.0.0.1:4000, "
        "this machine only: --lan lets your network join)",
        "error (render): bad thing",
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AVATARCHAT_LANG": "ko"}, "'zz': 방 코드가 아닙니다"),
        ({"LANG": "ko_KR.UTF-8"}, "'zz': 방 코드가 아닙니다"),
        ({"LANG": "C.UTF-8"}, "'zz' is not a room code"),
    ],
)
def test_tui_start_up_error_follows_the_language(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    base = {k: v for k, v in os.environ.items() if k not in (i18n.LANG_ENV, "LANG", "LC_ALL")}
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "--join", "zz"],
        env={**base, "AVATARCHAT_CONFIG_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"avatarchat-tui: {expected}"


def test_tui_setting_chooses_korean_for_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('language = "ko"\n', encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if k not in (i18n.LANG_ENV, "LC_ALL")}
    proc = subprocess.run(
        [sys.executable, "-m", "tui", "--join", "zz"],
        env={**base, "AVATARCHAT_CONFIG_DIR": str(tmp_path), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "방 코드가 아닙니다" in proc.stderr


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ko", "오류: 16진수가 아닙니다: 'z'은(는) 16진수 숫자가 아닙니다"),
        ("en", "error: not hex: 'z' is not a hex digit"),
    ],
)
def test_frame_errors_follow_the_language(lang: str, expected: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "frame", "decode", "zz"],
        env={**os.environ, i18n.LANG_ENV: lang},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected), proc.stderr


def test_call_refusals_reach_the_user_in_korean() -> None:
    """What call/ refuses before starting anything is shown as is by both front-ends."""
    from call import CallConfig
    from call.errors import CallConfigError

    i18n.set_language("ko")
    with pytest.raises(CallConfigError, match="영상 파일이 없습니다: /nope/clip.mp4"):
        CallConfig(room="r", source="/nope/clip.mp4").check()
    with pytest.raises(CallConfigError, match="ws://HOST:PORT 또는 wss://HOST 형식"):
        CallConfig(room="r", relay="http://example.org").check()


def test_tracking_status_lines_in_korean() -> None:
    """The tracker's status lines end up on the TUI's event log: in the user's language."""
    import json

    from protocol.channel import ChildChannel
    from tracking.pipeline import Tracker
    from tracking.runner import TrackingLoop
    from tracking.sources import SyntheticSource

    i18n.set_language("ko")
    stdin = io.StringIO('{"cmd":"pause","on":true}\n')
    out = io.StringIO()
    channel = ChildChannel(commands_in=stdin, output=out)
    channel.start()
    loop = TrackingLoop(SyntheticSource(paced=False), Tracker(load_model=False), channel=channel)
    assert loop.run() == 0
    channel.close()
    messages = [json.loads(line).get("message") for line in out.getvalue().splitlines()]
    assert "추적 일시정지: 얼굴 데이터를 보내지 않습니다" in messages
