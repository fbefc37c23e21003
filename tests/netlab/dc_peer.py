"""Minimal aiortc DataChannel peer for the netlab tests, run inside a namespace.

Why not the product's peer: the lab must be provable on its own (it is what the product's call
is later tested with). This is the smallest real WebRTC pair: the parent passes SDP between two
of these over their pipes (no signaling server) and reads one JSON line per step on stdout:
``{"event": "sdp", "sdp": ...}`` then ``{"event": "connected", "local": <candidate type>,
"remote": <candidate type>, "echo_ms": <one round trip over the channel>}``.

Usage: ``python dc_peer.py offer|answer [TURN_URL USERNAME PASSWORD]``; the peer reads the remote
SDP as one JSON line on stdin, and exits on EOF or ``{"cmd": "quit"}`` after connecting.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection
from aiortc import RTCSessionDescription as Sdp

#: ICE over TURN with a few failing host pairs connects in about 1 s here; generous for CI.
#: Tests that expect failure shorten it with DC_PEER_TIMEOUT_S.
CONNECT_TIMEOUT_S = float(os.environ.get("DC_PEER_TIMEOUT_S", "30"))


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def selected_pair(pc: RTCPeerConnection) -> tuple[str, str]:
    """Candidate types of the nominated pair (aiortc exposes no getStats for this)."""
    ice = pc.sctp.transport.transport  # type: ignore[union-attr]
    pair = next(iter(ice._connection._nominated.values()))
    return pair.local_candidate.type, pair.remote_candidate.type


async def main(role: str, turn: list[str]) -> None:
    servers = [RTCIceServer(urls=[turn[0]], username=turn[1], credential=turn[2])] if turn else []
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
    echoed: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def wire(ch: RTCDataChannel) -> None:
        @ch.on("message")
        def on_message(msg: str) -> None:
            kind, t0 = msg.split(":")
            if kind == "ping":
                ch.send(f"pong:{t0}")
            elif not echoed.done():
                echoed.set_result((time.monotonic() - float(t0)) * 1000)

        @ch.on("open")
        def on_open() -> None:
            ch.send(f"ping:{time.monotonic()}")

        if ch.readyState == "open":  # the answerer's channel arrives already open
            on_open()

    if role == "offer":
        ch = pc.createDataChannel("probe")
        wire(ch)
        await pc.setLocalDescription(await pc.createOffer())
        emit("sdp", sdp=pc.localDescription.sdp)
        answer = json.loads(await read_line())
        await pc.setRemoteDescription(Sdp(answer["sdp"], "answer"))
    else:
        pc.on("datachannel", wire)
        offer = json.loads(await read_line())
        await pc.setRemoteDescription(Sdp(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        emit("sdp", sdp=pc.localDescription.sdp)
    try:
        echo_ms = await asyncio.wait_for(echoed, CONNECT_TIMEOUT_S)
        local, remote = selected_pair(pc)
        emit("connected", local=local, remote=remote, echo_ms=round(echo_ms, 3))
        while (line := await read_line()) and json.loads(line).get("cmd") != "quit":
            pass
    except TimeoutError:
        emit("error", message=f"not connected within {CONNECT_TIMEOUT_S} s",
             ice=pc.iceConnectionState)  # fmt: skip
    finally:
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:5]))
