"""A hostile peer: an aiortc client that joins a victim's room through the relay, negotiates
exactly like a real client (negotiated ``params`` and ``ctl`` channels), answers pings so it
looks alive, and then sends whatever an attack wants."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import ClientConnection, connect

from protocol import ctl
from protocol.signaling import Answer, Join, Offer, parse_signal


class HostilePeer:
    """Use as ``async with HostilePeer(relay_url, room) as peer``: connected on entry."""

    def __init__(self, relay_url: str, room: str, *, gen: int = 1) -> None:
        self.relay_url = relay_url
        self.room = room
        self.gen = gen
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.params = self.pc.createDataChannel(
            "params", ordered=False, maxRetransmits=0, negotiated=True, id=0
        )
        self.ctl = self.pc.createDataChannel("ctl", negotiated=True, id=1)
        #: Everything the victim sent: params frames, and every ctl message that parsed.
        self.params_in: list[bytes] = []
        self.ctl_in: list[ctl.CtlMessage] = []
        #: The victim's answer (its SDP is checked by tests).
        self.answer: Answer | None = None
        self.hellos: list[ctl.Hello] = []
        self.chunks: list[ctl.AvatarChunk] = []
        self.requests: list[ctl.AvatarRequest] = []
        #: Called with every AvatarRequest the victim sends (to serve packs).
        self.on_request: Callable[[ctl.AvatarRequest], None] | None = None
        self._ws: ClientConnection | None = None
        self.ctl.on("message", self._on_ctl)
        self.params.on("message", self.params_in.append)

    def _on_ctl(self, data: bytes) -> None:
        try:
            message = ctl.parse_ctl(data)
        except Exception:
            return
        self.ctl_in.append(message)
        if isinstance(message, ctl.Hello):
            self.hellos.append(message)
        elif isinstance(message, ctl.AvatarChunk):
            self.chunks.append(message)
        elif isinstance(message, ctl.AvatarRequest):
            self.requests.append(message)
            if self.on_request is not None:
                self.on_request(message)
        elif isinstance(message, ctl.Ping):
            now = time.monotonic_ns() // 1000
            pong = ctl.Pong(seq=message.seq, t1_us=message.t1_us, t2_us=now, t3_us=now)
            self.ctl.send(pong.encode())

    async def __aenter__(self) -> HostilePeer:
        opened = asyncio.Event()
        self.ctl.on("open", opened.set)
        # The victim prints "waiting" a moment before the relay has it in the room (a loaded
        # machine stretches that moment): until it is there, leave and knock again.
        async with asyncio.timeout(30):
            while True:
                ws = await connect(f"{self.relay_url}/ws?room={self.room}", compression=None)
                await ws.send(Join(room=self.room).to_json())
                joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if joined.get("type") == "joined" and joined.get("peer_present"):
                    break
                await ws.close()
                if joined.get("type") != "joined":
                    raise RuntimeError(f"the relay refused the hostile peer: {joined}")
                await asyncio.sleep(0.2)
        self._ws = ws
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await ws.send(Offer(sdp=self.pc.localDescription.sdp, gen=self.gen).to_json())
        answer: Any = None
        async with asyncio.timeout(20):
            while not isinstance(answer, Answer):
                answer = parse_signal(await ws.recv())
        self.answer = answer
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        await asyncio.wait_for(opened.wait(), 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        await self.pc.close()

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == "connected" and self.ctl.readyState == "open"

    async def wait_hello(self, timeout: float = 10) -> ctl.Hello:
        async with asyncio.timeout(timeout):
            while not self.hellos:
                await asyncio.sleep(0.05)
        return self.hellos[0]
