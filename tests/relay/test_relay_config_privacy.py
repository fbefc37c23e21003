"""Flags, environment and privacy: env equivalents work, the TURN secret stays out of --help,
and neither room codes nor payloads reach the logs."""

from __future__ import annotations

import logging

import pytest
import trio
from relay_testkit import assert_alive, new_room_code, pair, recv, running_relay, send

from relay.config import DEFAULT_PORT, RelayConfig, build_parser, config_from_args
from relay.hub import room_tag


def _config(argv: list[str], env: dict[str, str]) -> RelayConfig:
    return config_from_args(build_parser(environ=env).parse_args(argv), env)


def test_flags_win_over_environment_and_lists_split_on_commas() -> None:
    env = {"AVATARCHAT_RELAY_PORT": "8701", "AVATARCHAT_RELAY_TURN_URI": "turn:a,turn:b",
           "AVATARCHAT_RELAY_TURN_SECRET": "from-env", "AVATARCHAT_RELAY_RATE": "2.5"}
    config = _config([], env)
    assert config.port == 8701 and config.turn_uris == ("turn:a", "turn:b")
    assert config.turn_secret == "from-env" and config.rate == 2.5
    config = _config(["--port", "9000", "--turn-uri", "turn:c"], env)
    assert config.port == 9000 and config.turn_uris == ("turn:c",)
    assert _config([], {}).port == DEFAULT_PORT


def test_nonsense_is_refused_and_the_secret_stays_out_of_help() -> None:
    with pytest.raises(ValueError, match="--turn-uri"):
        _config(["--turn-secret", "x"], {})
    with pytest.raises(ValueError, match="--tls-key"):
        _config(["--tls-cert", "c.pem"], {})
    help_text = build_parser(environ={"AVATARCHAT_RELAY_TURN_SECRET": "hunter2"}).format_help()
    assert "hunter2" not in help_text and "--turn-secret" in help_text


@pytest.mark.trio
async def test_logs_carry_room_hashes_never_codes_or_payloads(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    room = new_room_code()
    secret_sdp = "v=0 secret-sdp-content"
    async with running_relay() as server, pair(server, room) as (a, b, _room):
        await send(a, type="offer", sdp=secret_sdp)
        with trio.fail_after(5):
            await b.get_message()
        await a.send_message("{broken " + secret_sdp)
        assert (await recv(a))["code"] == "bad_json"
        await assert_alive(a, b)
    # Only the relay's own loggers: the test's client library logs its URL (with ?room=).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("relay"))
    assert room_tag(room) in text
    assert room not in text and secret_sdp not in text


@pytest.mark.trio
async def test_untrusted_strings_are_logged_escaped_on_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "ok\nERROR relay.server: forged line\x1b[2J" + "x" * 500
    async with running_relay() as server, pair(server) as (a, b, _room):
        await send(a, type="bye", reason=forged[:200])
        assert (await recv(b))["type"] == "peer_left"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("relay")]
    assert all("\n" not in line and "\x1b" not in line for line in lines), lines
    left = [line for line in lines if " left (" in line]
    assert left and "'ok\\nERROR relay.server: forged line\\x1b[2J" in left[0], left
    assert len(left[0]) < 200  # bounded, not the whole 200-character reason
