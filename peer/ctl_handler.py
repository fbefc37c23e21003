"""The ``ctl`` channel: hello, ping/pong, chat, emotion, avatar switch and transfer, bye.

Everything that arrives is parsed strictly (:func:`protocol.ctl.parse_ctl`); garbage is counted
(``bad_ctl``) and dropped, never raised. Events for the parent go out through ``emit(event,
**fields)``: ``peer_hello`` {name, avatar_id, avatar_hash, app_version}, ``chat`` {text, from},
``peer_emotion`` {preset, weight}, ``peer_avatar`` {ref, pending, id}, ``peer_bye`` {reason},
``peer_gesture`` {name, side} (the name checked against the known set by the parser, and at
most :data:`GESTURE_BURST` at once / :data:`GESTURES_PER_SECOND` sustained reach the user: a
hostile peer cannot fill the window with emoji).

Custom avatars travel peer-to-peer: when the peer's hello (or a later switch) names a pack we
lack, we ask for it and the peer sends the deterministic zip in chunks, paced so the shared SCTP
association keeps room for ``params``. Receiving (the per-call limits, the per-call folder the
pack is installed in) is :class:`peer.pack_inbox.PackInbox`'s; serving ours is here.

Serving our own pack is bounded whatever the peer asks (a request flood used to zip and hold the
pack once per request): the zip is built at most once per :class:`LocalAvatar` and kept on it,
one transfer runs at a time (a request for what is already being sent, or already waiting, is a
duplicate), at most one more waits behind it, and at most
:data:`MAX_PACK_TRANSFERS_PER_MINUTE` are accepted; every refused request is counted
(``avatar_requests_refused`` in the ``stats`` event).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol import ctl
from protocol.errors import DecodeError, EncodeError
from protocol.events import (
    ChatReceived,
    Error,
    Event,
    PeerBye,
    PeerEmotion,
    PeerGesture,
    PeerHello,
)

from .clock import ClockSync
from .frames import TokenBucket
from .pack_inbox import PackInbox
from .stats import CallStats

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
#: Avatar chunks are paced, additive increase / multiplicative decrease, by whether the last
#: chunk had left the ctl channel's queue (``bufferedAmount`` 0) by the time the next is due.
#: aiortc's SCTP has one send queue for every channel, so a parameter frame waits behind any
#: chunk still queued; and a sender that always keeps it full lets SCTP burst at full speed,
#: which a busy receiving process reads too slowly: its socket buffer overflows and the loss
#: stalls the whole association, frames included, for a retransmission timeout (seen: 0 frames
#: for 2.5 s and a reconnect, 12 MB at full speed on a loaded machine). Bytes per second:
PACK_RATE_START = 256 * 1024
PACK_RATE_MIN = 32 * 1024
PACK_RATE_MAX = 4 * 1024 * 1024
#: Added to the rate after each chunk that had left in time (a 12 MB VRoid export reaches
#: 2 MiB/s within the first megabyte on a clean path, about 7 s in all).
PACK_RATE_STEP = 48 * 1024
#: At most this many chat messages per second from the peer reach the user (flood guard).
CHAT_PER_SECOND = 5
#: Gestures from the peer that reach the user: an honest tracker announces one every couple of
#: seconds at most (its classifier cools down), so a burst of 3 and one every 2 s sustained.
GESTURES_PER_SECOND = 0.5
GESTURE_BURST = 3.0
#: ctl message budget: 1 Hz pings, the odd chat and a whole pack's chunks in one burst
#: (8 MiB / 16 KiB = 512) pass; a peer flooding ctl is cut off and counted. Chunks of a transfer
#: we asked for pass even past it (a 48 MiB VRM is 3072 chunks): the transfer's cap and the
#: call's byte budget (:mod:`peer.pack_inbox`) bound those.
CTL_RATE_PER_S = 100.0
CTL_BURST = 600.0
#: Outstanding pings we remember (a pong for anything else is forged or very late).
MAX_OUTSTANDING_PINGS = 8
#: Pack transfers the peer may start per minute (a sliding window over the whole call, which a
#: reconnect does not reset). Per minute rather than per call: a well-behaved peer asks once per
#: pack we announce -- the hello on every link and every avatar switch -- so a long call with a
#: few switches or reconnects must not run out, while a peer repeating requests gets at most six
#: packs a minute (the zip itself is cached, so that costs bandwidth, paced behind ``params``,
#: not CPU or memory). A request refused by this cap gets no answer (an answer per request would
#: itself be the flood) and is counted.
MAX_PACK_TRANSFERS_PER_MINUTE = 6
#: Bytes of our own avatar we send in one call (the networking process; reconnects do not reset
#: it): four whole transfers of the largest model. A peer keeps what it received for the call,
#: so an honest one asks again only after a switch; a peer asking on and on would otherwise
#: have a 48 MiB VRM uploaded six times a minute for as long as the call lasts.
MAX_SERVED_BYTES_PER_CALL = 4 * ctl.MAX_AVATAR_MODEL_BYTES
PACK_TRANSFER_WINDOW_S = 60.0


class _Pace:
    """The send rate of one avatar transfer (see :data:`PACK_RATE_START`)."""

    def __init__(self) -> None:
        self.rate = float(PACK_RATE_START)
        self.due = time.monotonic()

    async def wait(self, buffered: Callable[[], int]) -> None:
        """Sleep until the next chunk may go: its time under the current rate has come and
        the last chunk has left the queue (then the rate grows; had it not, it halves)."""
        now = time.monotonic()
        if self.due > now:
            await asyncio.sleep(self.due - now)
        if buffered() > 0:
            self.rate = max(PACK_RATE_MIN, self.rate / 2)
            while buffered() > 0:
                await asyncio.sleep(0.005)
        else:
            self.rate = min(PACK_RATE_MAX, self.rate + PACK_RATE_STEP)
        self.due = time.monotonic() + ctl.AVATAR_CHUNK_BYTES / self.rate


def now_us() -> int:
    return time.monotonic_ns() // 1000


@dataclass(slots=True)
class LocalAvatar:
    """What we announce in hello: the avatar ref plus, when it loaded, its identity."""

    ref: str
    id: str
    version: str = ""
    hash: str = ""
    #: The loaded avatars.model.AvatarPack, or avatars.model3d.Model (None if loading failed).
    pack: Any = None
    #: The pack's deterministic zip, built on the first request and reused for every transfer
    #: (a 3D avatar: the .vrm/.glb file's bytes, read when it was loaded).
    zip_bytes: bytes | None = field(default=None, repr=False, compare=False)


def load_local_avatar(ref: str) -> LocalAvatar:
    """Load ``ref`` (built-in id or path); never raises (announce the bare id on failure).

    A 3D avatar (built-in 3D id or .vrm/.glb path) is announced with the SHA-256 of its file and
    sent as that file (:mod:`avatars.model_transfer`); it is validated here first, so a model
    we could not draw ourselves is never offered to the peer.
    """
    from avatars.avatar3d import is_3d_ref

    if is_3d_ref(ref):
        return _load_local_model(ref)
    try:
        from avatars.pack import load_pack

        pack = load_pack(ref)
    except Exception as e:  # PackError, ImportError, OSError: still call, just without a hash
        log.warning("avatar %r could not be loaded (%s); announcing its id only", ref, e)
        return LocalAvatar(ref=ref, id=Path(ref).name[:64])
    return LocalAvatar(ref=ref, id=pack.id, version=pack.version, hash=pack.content_hash, pack=pack)


def _load_local_model(ref: str) -> LocalAvatar:
    try:
        from avatars.model_transfer import load_local_model

        local = load_local_model(ref)
    except Exception as e:  # ModelError, ImportError: still call, just without a hash
        log.warning("3D avatar %r could not be loaded (%s); announcing its id only", ref, e)
        return LocalAvatar(ref=ref, id=Path(ref).stem[:64])
    # The file itself is what a transfer sends: kept as the "zip" (built once, reused).
    return LocalAvatar(
        ref=ref, id=local.id, hash=local.hash, pack=local.model, zip_bytes=local.data
    )


def warm_builtin_hashes() -> None:
    """Load every built-in's content hash once, in a thread, so hellos are answered at once."""
    from avatars.model_transfer import warm_builtin3d_hashes
    from avatars.pack import warm_builtin_hashes as warm

    warm()
    warm_builtin3d_hashes()


class CtlHandler:
    """Per-process ctl logic; :meth:`attach` binds it to each new link's channel.

    ``start(coro)`` runs a pack transfer or install in the background; the networking process
    passes its task group's, so no transfer outlives the call. :meth:`close` at the end of the
    call deletes the packs received in it.
    """

    def __init__(
        self,
        *,
        name: str,
        avatar: LocalAvatar,
        emit: Callable[[Event], None],
        stats: CallStats,
        clock: ClockSync,
        start: Callable[[Coroutine[Any, Any, None]], None],
        cache_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.avatar = avatar
        self._emit = emit
        self.stats = stats
        self.clock = clock
        if cache_dir is None:
            from avatars.pack import cache_dir as default_cache_dir

            cache_dir = default_cache_dir()  # where avatars.find_pack looks
        self.cache_dir = cache_dir
        #: The receiving half: asks for the peer's pack, installs it, within per-call limits.
        self.inbox = PackInbox(
            send=self.send, emit=emit, stats=stats, start=start, cache_dir=cache_dir
        )
        self._send: Callable[[bytes], bool] = lambda _d: False
        self._buffered: Callable[[], int] = lambda: 0
        self._ping_seq = 0
        self._pings: dict[int, int] = {}
        self._chat_id = 0
        self._chat_tokens = float(CHAT_PER_SECOND)
        self._chat_refill = time.monotonic()
        self.peer_name = ""
        self.peer_hello: ctl.Hello | None = None
        self.last_rx = 0.0  # monotonic s of the last valid ctl message
        self.last_pong = 0.0
        #: Runs a pack transfer or install as a task the networking process owns.
        self._start = start
        self._bucket = TokenBucket(CTL_RATE_PER_S, CTL_BURST)
        self._gesture_bucket = TokenBucket(GESTURES_PER_SECOND, GESTURE_BURST)
        #: Peer gestures dropped by the rate limit.
        self.gestures_dropped = 0
        #: Each link gets a new number; a transfer stops when its link is gone.
        self._link = 0
        #: (link, hash) of the pack transfer in flight, and of the one request waiting behind it.
        self._pack_sending: tuple[int, str] | None = None
        self._pack_queued: tuple[int, str] | None = None
        #: Monotonic times of the transfers accepted in the last PACK_TRANSFER_WINDOW_S.
        self._pack_accepted: deque[float] = deque()
        self.bytes_served = 0  # our avatar's bytes sent in this call (MAX_SERVED_BYTES_PER_CALL)

    # -- binding ---------------------------------------------------------------------------
    def attach(self, send: Callable[[bytes], bool], buffered: Callable[[], int]) -> None:
        """Use a new link's ctl channel; say hello on it."""
        self._send = send
        self._buffered = buffered
        self._pings.clear()
        self.inbox.new_link()
        self._link += 1  # a transfer on the old link stops; the peer asks again after our hello
        self.last_rx = self.last_pong = time.monotonic()
        self.send(
            ctl.Hello(
                name=self.name[: ctl.MAX_NAME_CHARS],
                avatar_id=self.avatar.id[:64],
                avatar_version=self.avatar.version[:32],
                avatar_hash=self.avatar.hash,
                app_version=APP_VERSION,
            )
        )

    def prepare(self) -> None:
        """Start-up work for a thread: built-in hashes (so hellos are answered at once) and
        the received packs of calls that ended without removing them."""
        warm_builtin_hashes()
        self.inbox.sweep()

    def close(self) -> None:
        """The call is over: delete the packs received in it."""
        self.inbox.close()

    def send(self, message: ctl.CtlMessage) -> bool:
        try:
            return self._send(message.encode())
        except EncodeError as e:
            log.warning("not sending %s: %s", type(message).__name__, e)
            return False

    # -- periodic --------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: a ping for RTT and clock offset."""
        self._ping_seq += 1
        t1 = now_us()
        self._pings[self._ping_seq] = t1
        if len(self._pings) > MAX_OUTSTANDING_PINGS:
            del self._pings[min(self._pings)]
        self.send(ctl.Ping(seq=self._ping_seq, t1_us=t1))

    # -- commands from the parent ----------------------------------------------------------
    def chat(self, text: str) -> bool:
        self._chat_id += 1
        return self.send(ctl.Chat(msg_id=self._chat_id, text=text[: ctl.MAX_CHAT_CHARS]))

    def emotion(self, preset: int, weight: float) -> bool:
        weight = min(1.0, max(0.0, weight)) if math.isfinite(weight) else 0.0
        return self.send(ctl.EmotionPreset(preset=preset, weight=weight))

    def gesture(self, name: str, side: int) -> bool:
        """Tell the peer we made a hand gesture (False: not connected, or not a known one)."""
        return self.send(ctl.Gesture(name=name, side=side))

    def switch_avatar(self, avatar: LocalAvatar) -> bool:
        self.avatar = avatar
        return self.send(
            ctl.AvatarSwitch(
                avatar_id=avatar.id[:64],
                avatar_version=avatar.version[:32],
                avatar_hash=avatar.hash,
            )
        )

    def bye(self, reason: str = "hangup") -> bool:
        return self.send(ctl.Bye(reason=reason[:200]))

    # -- incoming --------------------------------------------------------------------------
    def handle(self, data: bytes) -> None:
        t4 = now_us()
        allowed = self._bucket.take()
        if not allowed and not self.inbox.expecting():
            self.stats.bad_ctl += 1
            return
        try:
            message = ctl.parse_ctl(data)
        except DecodeError as e:
            self.stats.bad_ctl += 1
            log.debug("bad ctl message: %s", e)
            return
        if not allowed and not (
            isinstance(message, ctl.AvatarChunk) and self.inbox.expects(message.hash)
        ):
            self.stats.bad_ctl += 1
            return
        self.last_rx = time.monotonic()
        try:
            self._dispatch(message, t4)
        except Exception:  # a handler bug must not take the call down
            self.stats.bad_ctl += 1
            log.exception("ctl %s handler failed", type(message).__name__)

    def _dispatch(self, message: ctl.CtlMessage, t4: int) -> None:
        if isinstance(message, ctl.Ping):
            self.send(ctl.Pong(seq=message.seq, t1_us=message.t1_us, t2_us=t4, t3_us=now_us()))
        elif isinstance(message, ctl.Pong):
            t1 = self._pings.pop(message.seq, None)
            if t1 is None or t1 != message.t1_us:
                self.stats.bad_ctl += 1
                return
            self.clock.add(t1, message.t2_us, message.t3_us, t4)
            self.last_pong = time.monotonic()
        elif isinstance(message, ctl.Hello):
            self.peer_hello = message
            self.peer_name = message.name
            self._emit(
                PeerHello(
                    name=message.name,
                    avatar_id=message.avatar_id,
                    avatar_version=message.avatar_version,
                    avatar_hash=message.avatar_hash,
                    app_version=message.app_version,
                    protocol=message.protocol,
                )
            )
            self.inbox.peer_avatar(message.avatar_id, message.avatar_hash)
        elif isinstance(message, ctl.AvatarSwitch):
            self.inbox.peer_avatar(message.avatar_id, message.avatar_hash)
        elif isinstance(message, ctl.Chat):
            if self._chat_allowed():
                self._emit(
                    ChatReceived(text=message.text, sender=self.peer_name, msg_id=message.msg_id)
                )
            else:
                self.stats.bad_ctl += 1
        elif isinstance(message, ctl.EmotionPreset):
            weight = min(1.0, max(0.0, round(message.weight, 3)))
            self._emit(PeerEmotion(preset=message.preset, weight=weight))
        elif isinstance(message, ctl.Gesture):
            if self._gesture_bucket.take():
                self._emit(PeerGesture(name=message.name, side=message.side))
            else:
                self.gestures_dropped += 1
        elif isinstance(message, ctl.AvatarRequest):
            self._serve_pack(message.hash)
        elif isinstance(message, ctl.AvatarChunk):
            self.inbox.receive_chunk(message)
        elif isinstance(message, ctl.AvatarUnavailable):
            self.inbox.unavailable(message.hash)
            self._emit(Error(message=f"peer cannot send its avatar: {message.reason}"))
        elif isinstance(message, ctl.Bye):  # peer.negotiation keeps the fact (one owner)
            self._emit(PeerBye(reason=message.reason))

    def _chat_allowed(self) -> bool:
        now = time.monotonic()
        self._chat_tokens = min(
            float(CHAT_PER_SECOND), self._chat_tokens + (now - self._chat_refill) * CHAT_PER_SECOND
        )
        self._chat_refill = now
        if self._chat_tokens < 1.0:
            return False
        self._chat_tokens -= 1.0
        return True

    # -- avatar packs ----------------------------------------------------------------------
    def _serve_pack(self, digest: str) -> None:
        if not self.avatar.hash or digest != self.avatar.hash or self.avatar.pack is None:
            self.send(ctl.AvatarUnavailable(hash=digest[:64], reason="not my current avatar"))
            return
        key = (self._link, digest)
        if key == self._pack_sending or key == self._pack_queued:
            self.stats.avatar_requests_refused += 1  # duplicate: already being sent / waiting
            return
        now = time.monotonic()
        window = self._pack_accepted
        while window and now - window[0] >= PACK_TRANSFER_WINDOW_S:
            window.popleft()
        if len(window) >= MAX_PACK_TRANSFERS_PER_MINUTE:
            self.stats.avatar_requests_refused += 1
            log.debug("avatar request refused: %d transfers in the last minute", len(window))
            return
        window.append(now)
        if self._pack_sending is not None:
            # The transfer in flight is for an older link or avatar (we switched): this one
            # waits behind it, replacing any earlier waiter (that one is stale by now).
            if self._pack_queued is not None:
                self.stats.avatar_requests_refused += 1
            self._pack_queued = key
            return
        self._begin_pack(key)

    def _begin_pack(self, key: tuple[int, str]) -> None:
        self._pack_sending = key
        try:
            self._start(self._send_pack(self.avatar, key[0]))
        except BaseException:
            self._pack_sending = None
            raise

    async def _send_pack(self, avatar: LocalAvatar, link: int) -> None:
        try:
            await self._transfer_pack(avatar, link)
        finally:
            self._pack_sending = None
        queued, self._pack_queued = self._pack_queued, None
        if (
            queued is not None
            and queued == (self._link, self.avatar.hash)
            and self.avatar.pack is not None
        ):
            self._begin_pack(queued)

    async def _transfer_pack(self, avatar: LocalAvatar, link: int) -> None:
        from avatars.pack import pack_bytes

        data = avatar.zip_bytes
        if data is None:  # built once per avatar, then reused (one transfer at a time)
            try:
                data = await asyncio.to_thread(pack_bytes, avatar.pack)
            except Exception as e:
                self.send(ctl.AvatarUnavailable(hash=avatar.hash, reason=str(e)[:200]))
                return
            avatar.zip_bytes = data
        if len(data) > ctl.transfer_cap(data):
            self.send(ctl.AvatarUnavailable(hash=avatar.hash, reason="avatar too large"))
            return
        if self.bytes_served + len(data) > MAX_SERVED_BYTES_PER_CALL:
            self.stats.avatar_requests_refused += 1
            reason = "my avatar was already sent several times in this call"
            self.send(ctl.AvatarUnavailable(hash=avatar.hash, reason=reason))
            return
        self.bytes_served += len(data)  # counted whole: a transfer cut short still cost
        total = max(1, math.ceil(len(data) / ctl.AVATAR_CHUNK_BYTES))
        pace = _Pace()
        for index in range(total):
            await pace.wait(self._buffered)
            if link != self._link or avatar.hash != self.avatar.hash:
                log.info("avatar transfer stopped (new link or avatar switched)")
                return
            chunk = data[index * ctl.AVATAR_CHUNK_BYTES : (index + 1) * ctl.AVATAR_CHUNK_BYTES]
            msg = ctl.AvatarChunk(
                hash=avatar.hash, index=index, total=total, size=len(data), data=chunk
            )
            if not self.send(msg):
                log.info("avatar transfer interrupted (channel closed)")
                return
        log.info("sent avatar %s (%d bytes in %d chunks)", avatar.id, len(data), total)
