"""One aiortc RTCPeerConnection with the call's two DataChannels (one "generation" of the link).

aiortc has no ICE restart, so recovering from a dead path means a *new* RTCPeerConnection; the
app numbers them (``gen``) and this class is one of them. Both channels are ``negotiated=True``
with fixed ids, so neither side waits for an in-band DCEP open and there is no race over who
creates which channel:

- ``params`` (id 0): unordered, ``maxRetransmits=0`` -- the latest expression wins; a lost or
  late frame is never retransmitted in front of a newer one.
- ``ctl`` (id 1): reliable and ordered -- hello, ping/pong, chat, avatar transfer, bye.

With voice on (issue 14) one Opus audio track rides beside them (:mod:`peer.voice`). No video
track is ever added, and :func:`check_sdp` enforces the sections on every SDP, ours and the
peer's: exactly one ``m=application``, ``m=audio`` only where voice was agreed, never
``m=video`` (a peer offering video is refused: the link is dropped with that reason), so a
tampering relay cannot smuggle in a camera. A peer without voice answers a voice offer with
the audio section ``a=inactive`` (an answer must mirror every offered section, RFC 3264) and
a voice offer is never sent by it, so a voice peer and a no-voice peer connect text-and-avatar
only.

aiortc gathers all candidates before ``setLocalDescription`` returns and puts them in the SDP,
so no trickle ICE is needed: an offer or answer is one relay message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    rtcsctptransport,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from .errors import NegotiationError
from .negotiation import LinkProbe
from .voice import LinkVoice
from .voice.playout import install_tap
from .voice.track import install_encoder

log = logging.getLogger(__name__)

#: aiortc starts SCTP's retransmission timer at RFC 4960's 3 s, so a single lost INIT or
#: COOKIE-ECHO on a lossy path (5% loss: about one call in ten) cost 3 s of setup and broke
#: the "connected within 5 s" promise. WebRTC stacks start lower (Chrome's dcSCTP: 0.5 s);
#: 1 s stays far above any real RTT while bounding what a lost handshake packet costs.
#: aiortc reads the module constant when each association is created.
SCTP_RTO_INITIAL_S = 1.0
rtcsctptransport.SCTP_RTO_INITIAL = SCTP_RTO_INITIAL_S

PARAMS_CHANNEL_ID = 0
CTL_CHANNEL_ID = 1
_M_LINE = re.compile(r"^m=(\S+)", re.MULTILINE)
_FINGERPRINT = re.compile(r"^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$", re.MULTILINE)
_CANDIDATE_TYPE = re.compile(r"^a=candidate:.* typ (\w+)", re.MULTILINE)
#: Words for the spoken form of the SAS (256 words would be nicer; 6 digits are enough and
#: unambiguous across languages).
SAS_DIGITS = 6


def check_sdp(sdp: str, *, audio: bool = False) -> None:
    """Raise NegotiationError unless ``sdp`` has exactly one ``m=application`` and, if
    ``audio``, at most one ``m=audio``; ``m=video`` (or anything else) is always refused."""
    kinds = _M_LINE.findall(sdp)
    if "video" in kinds:
        raise NegotiationError(
            "refusing an SDP that offers video: avatarchat never sends or receives video "
            f"(media sections {kinds})"
        )
    allowed = ["application", "audio"] if audio else ["application"]
    if (
        kinds.count("application") != 1
        or any(k not in allowed for k in kinds)
        or kinds.count("audio") > 1
    ):
        what = "one m=application and at most one m=audio" if audio else "one m=application"
        raise NegotiationError(
            f"refusing an SDP with media sections {kinds or 'none'}: only {what} is allowed"
        )


def has_audio(sdp: str) -> bool:
    return "audio" in _M_LINE.findall(sdp)


def candidate_types(sdp: str) -> set[str]:
    """Candidate types (host, srflx, prflx, relay) present in an SDP."""
    return set(_CANDIDATE_TYPE.findall(sdp))


def sdp_fingerprint(sdp: str) -> str | None:
    """The sha-256 DTLS fingerprint an SDP announces (uppercase hex with colons)."""
    match = _FINGERPRINT.search(sdp)
    return match.group(1).upper() if match else None


def short_auth_string(fingerprint_a: str, fingerprint_b: str) -> str:
    """Six digits both sides derive from the two DTLS fingerprints (order-independent).

    If the relay sat in the middle, each side would see a different remote fingerprint and the
    two users would read out different numbers.
    """
    first, second = sorted((fingerprint_a.upper(), fingerprint_b.upper()))
    digest = hashlib.sha256(f"avatarchat-sas-v1|{first}|{second}".encode()).digest()
    number = int.from_bytes(digest[:8], "big") % (10**SAS_DIGITS)
    text = f"{number:0{SAS_DIGITS}d}"
    return f"{text[:3]} {text[3:]}"


def turn_problem(ice_servers: list[RTCIceServer], sdp: str, *, turn_only: bool) -> str | None:
    """Why TURN cannot work for a local description ``sdp``, or None.

    A TURN server that refuses the credentials raises nothing in aiortc: the SDP just lacks a
    relay candidate and ICE stays in "checking", so this is how the user learns why.
    """
    uses_turn = any(u.startswith("turn") for s in ice_servers for u in _urls(s))
    if turn_only and not uses_turn:
        return (
            "--turn-only, but there is no TURN server: the relay issued no credentials and "
            "no --ice-server was given"
        )
    if uses_turn and "relay" not in candidate_types(sdp):
        return "TURN server refused the credentials or is unreachable: no relay candidate" + (
            " (--turn-only: the call cannot connect)" if turn_only else ""
        )
    return None


def _urls(server: RTCIceServer) -> list[str]:
    urls = server.urls
    return [urls] if isinstance(urls, str) else list(urls)


def build_configuration(
    ice_servers: list[RTCIceServer], *, turn_only: bool = False
) -> RTCConfiguration:
    policy = RTCIceTransportPolicy.RELAY if turn_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=ice_servers, iceTransportPolicy=policy)


class PeerLink:
    """One RTCPeerConnection and its ``params``/``ctl`` channels.

    Callbacks: ``on_params(bytes)``, ``on_ctl(bytes)``, ``on_open()`` when both channels are
    open, ``on_failed(reason)`` when the connection fails or closes underneath us.
    """

    def __init__(
        self,
        gen: int,
        configuration: RTCConfiguration,
        *,
        on_params: Callable[[bytes], None],
        on_ctl: Callable[[bytes], None],
        on_open: Callable[[PeerLink], None],
        on_failed: Callable[[PeerLink, str], None],
        voice: LinkVoice | None = None,
    ) -> None:
        self.gen = gen
        self.pc = RTCPeerConnection(configuration)
        #: Our voice parts (None: --no-voice); ``audio_agreed`` once both SDPs carry audio
        #: that we send and receive.
        self.voice = voice
        self.audio_agreed = False
        self.params: RTCDataChannel = self.pc.createDataChannel(
            "params", ordered=False, maxRetransmits=0, negotiated=True, id=PARAMS_CHANNEL_ID
        )
        self.ctl: RTCDataChannel = self.pc.createDataChannel(
            "ctl", ordered=True, negotiated=True, id=CTL_CHANNEL_ID
        )
        self.opened = False
        self.closed = False
        self.local_sdp: str | None = None
        self.remote_sdp: str | None = None
        # aioice clears its nominated pair on close, so the stats written while a call tears down
        # would lose the path it used; the last pair seen is kept instead.
        self._last_pair: dict[str, str] | None = None
        self._on_open = on_open
        self._on_failed = on_failed

        def _params_message(message: Any) -> None:
            if isinstance(message, bytes):
                on_params(message)
            else:  # text on a binary channel: still counted as a bad frame by the app
                on_params(b"")

        def _ctl_message(message: Any) -> None:
            on_ctl(message if isinstance(message, bytes) else b"")

        self.params.on("message", _params_message)
        self.ctl.on("message", _ctl_message)
        self.params.on("open", self._check_open)
        self.ctl.on("open", self._check_open)
        self.pc.on("connectionstatechange", self._state_changed)

    # -- negotiation -----------------------------------------------------------------------
    async def create_offer(self) -> str:
        try:
            if self.voice is not None:
                install_encoder(self.pc.addTrack(self.voice.track))  # m=audio sendrecv
            await self.pc.setLocalDescription(await self.pc.createOffer())
        except Exception as e:  # aiortc raises assorted exceptions from deep inside
            raise NegotiationError(f"could not create an offer: {e}") from e
        return self._local(audio=self.voice is not None)

    async def accept_offer(self, sdp: str) -> str:
        check_sdp(sdp, audio=True)  # audio is answered (inactive without voice); video never
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            for transceiver in self._audio_transceivers():
                if self.voice is not None:
                    # joins the offered audio section
                    install_encoder(self.pc.addTrack(self.voice.track))
                    install_tap(transceiver.receiver, self.voice.playout)
                else:
                    transceiver.direction = "inactive"
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception as e:
            raise NegotiationError(f"could not answer the peer's offer: {e}") from e
        self.remote_sdp = sdp
        local = self._local(audio=has_audio(sdp))
        self.audio_agreed = self.voice is not None and has_audio(sdp)
        return local

    async def accept_answer(self, sdp: str) -> None:
        offered_audio = self.voice is not None
        check_sdp(sdp, audio=offered_audio)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            if self.voice is not None:
                for transceiver in self._audio_transceivers():
                    install_tap(transceiver.receiver, self.voice.playout)
        except Exception as e:
            raise NegotiationError(f"could not apply the peer's answer: {e}") from e
        self.remote_sdp = sdp
        self.audio_agreed = offered_audio and has_audio(sdp) and "a=inactive" not in sdp

    def sections(self) -> dict[str, list[str]]:
        """The media sections (``m=`` kinds) of our SDP and the peer's, for stats and tests."""
        return {
            "local": _M_LINE.findall(self.local_sdp or ""),
            "remote": _M_LINE.findall(self.remote_sdp or ""),
        }

    def _audio_transceivers(self) -> list[Any]:
        return [t for t in self.pc.getTransceivers() if t.kind == "audio"]

    def _local(self, *, audio: bool) -> str:
        desc = self.pc.localDescription
        if desc is None:
            raise NegotiationError("no local description after negotiation")
        check_sdp(desc.sdp, audio=audio)
        self.local_sdp = desc.sdp
        return desc.sdp

    def send_ctl(self, data: bytes) -> bool:
        """Send on ``ctl`` if it is open (False otherwise: the message is not queued)."""
        if self.ctl.readyState != "open":
            return False
        self.ctl.send(data)
        return True

    # -- state -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.opened or self.closed:
            return
        if self.params.readyState == "open" and self.ctl.readyState == "open":
            self.opened = True
            self._on_open(self)

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        log.debug("gen %d: connection state %s", self.gen, state)
        if state in ("failed", "closed") and not self.closed:
            self._on_failed(self, f"connection {state}")

    @property
    def ice_state(self) -> str:
        return str(self.pc.iceConnectionState)

    def probe(self) -> LinkProbe:
        """What the negotiation's tick needs to know of this link."""
        return LinkProbe(self.gen, self.ice_state, self.closed, bool(self.local_sdp))

    def sas(self) -> str | None:
        """The short authentication string, once both descriptions are known."""
        if not self.remote_sdp:
            return None
        sctp = self.pc.sctp
        if sctp is None:
            return None
        local = [
            f.value
            for f in sctp.transport.getLocalParameters().fingerprints
            if f.algorithm == "sha-256"
        ]
        remote = sdp_fingerprint(self.remote_sdp)
        if not local or remote is None:
            return None
        return short_auth_string(local[0], remote)

    def candidate_pair(self) -> dict[str, str] | None:
        """Selected pair: {"type": host|srflx|relay, "local": ..., "remote": ...}.

        aiortc's getStats() has no candidate-pair entry for data-only connections, so this reads
        the nominated pair of aioice's Connection (private API, guarded). Once the connection is
        closed, the pair it last used.
        """
        try:
            conn = self.pc.sctp.transport.transport._connection  # type: ignore[union-attr]
            pair = conn._nominated.get(1)
            if pair is None:
                return self._last_pair
            local = str(pair.local_candidate.type)
            remote = str(pair.remote_candidate.type)
        except AttributeError:
            return self._last_pair
        kinds = {local, remote}
        kind = "relay" if "relay" in kinds else "srflx" if kinds & {"srflx", "prflx"} else "host"
        self._last_pair = {"type": kind, "local": local, "remote": remote}
        return self._last_pair

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5.0)
