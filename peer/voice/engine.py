"""The voice of one networking process: capture loop, playout loop, mute/deafen, stats.

It outlives links: the microphone is read and the speaker clock runs for the whole process
(the level meter works before the call connects, and a reconnect does not reopen devices).
Each link gets a fresh :class:`~peer.voice.track.MicTrack` to send and a fresh
:class:`~peer.voice.playout.PlayoutBuffer` to receive into (:meth:`Voice.link_parts`); the
loops always use the current link's.

Hooks for the DSP of issue 14 (echo cancellation, mouth from voice; :mod:`peer.voice.aec`,
:mod:`peer.voice.mouth`):

- ``mic_filter(pcm, capture_ns) -> pcm``: applied to every captured block before anything else
  sees it (echo cancellation, noise suppression, gain). None = pass-through.
- ``on_mic_audio(pcm, capture_ns)``: every 20 ms block after ``mic_filter`` (even while muted:
  the mouth follows the voice only when it is sent, which the hook's owner checks with
  :attr:`Voice.muted`).
- ``on_far_audio(pcm, playout_ns)``: every block handed to the speaker (silence while
  deafened: what the room hears), the echo canceller's reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.events import VoiceLevel

from ..options import PeerOptions
from .playout import PlayoutBuffer
from .sinks import Sink, WavSink, open_sink
from .sources import BLOCK_MS, BLOCK_NS, PCM, MicSource, PacedSource, open_source, silence
from .stats import Vad, dbfs, level_of
from .track import MicTrack

log = logging.getLogger(__name__)

#: VoiceLevel events are sent every this many blocks (5 x 20 ms = 10 Hz)...
LEVEL_EVERY = 5
#: ...except one equal to the last sent, which is repeated only every this many blocks (0.5
#: s): a silent or muted microphone with a silent peer says the same thing ten times a
#: second, and each event is a hand-over to the writer thread, a pipe write and a parse in
#: the front-end (issue 14's CPU budget). Front-ends treat a second without one as silence
#: (the TUI's meter), so the repeat stays well inside that.
LEVEL_REPEAT_EVERY = 25
#: The playout clock re-anchors after falling this far behind (a stalled process), instead of
#: pulling a burst of blocks (not for a WAV sink, whose timeline must stay exact).
MAX_BEHIND_NS = 200_000_000


@dataclass(slots=True)
class LinkVoice:
    """What one link needs: the track it sends and the buffer it receives into."""

    track: MicTrack
    playout: PlayoutBuffer


@dataclass(slots=True)
class Hooks:
    mic_filter: Callable[[PCM, int], PCM] | None = None
    on_mic_audio: list[Callable[[PCM, int], None]] = field(default_factory=list)
    on_far_audio: list[Callable[[PCM, int], None]] = field(default_factory=list)


class Voice:
    """``await start()``, then run :meth:`capture_loop` and :meth:`playout_loop` as tasks."""

    def __init__(
        self,
        opts: PeerOptions,
        *,
        emit: Callable[[VoiceLevel], None],
        say: Callable[[str], None],
    ) -> None:
        self.opts = opts
        self.muted = opts.muted
        self.deafened = opts.deafened
        self.hooks = Hooks()
        self._emit = emit
        self._say = say
        self.source: MicSource | None = None
        self.sink: Sink = Sink()
        self.mic_reason: str | None = None
        self.speaker_reason: str | None = None
        self.current: LinkVoice | None = None
        self._vad = Vad()
        self._peer_vad = Vad()
        self.in_level = 0.0
        self.speaking = False
        self.peer_speaking = False
        self._blocks = 0
        self._level_sent: VoiceLevel | None = None
        self._level_sent_block = 0
        self.capture_ns_last = 0
        self._silent_note = ""
        #: Lip-sync hold asked for by call/ (SetSyncHold), kept across links (ms).
        self.sync_hold_ms = 0.0

    async def start(self) -> None:
        """Open the source and sink; a missing sound system is said once, never fatal. A bad
        file spec raises (:class:`~peer.voice.sources.VoiceSourceError` /
        :class:`~peer.voice.sinks.VoiceSinkError`): the user asked for that file."""
        opts = self.opts
        self.source, self.mic_reason = open_source(
            opts.mic, clip_path=opts.clip_path, clip_epoch_ns=opts.clip_epoch_ns
        )
        self.sink, self.speaker_reason = open_sink(opts.speaker)
        reasons = [r for r in (self.mic_reason, self.speaker_reason) if r]
        #: Said once by the capture loop, i.e. after the process's ``ready`` (a parent reads
        #: status lines only from then on).
        self._silent_note = (
            "voice runs silent: " + "; ".join(dict.fromkeys(reasons)) if reasons else ""
        )

    def link_parts(self) -> LinkVoice:
        """Fresh sending track and playout buffer for a new link (it becomes current)."""
        if self.current is not None:
            self.current.track.stop()
        self.current = LinkVoice(MicTrack(), PlayoutBuffer())
        self.current.playout.set_hold(self.sync_hold_ms)
        return self.current

    def drop_link(self, parts: LinkVoice | None) -> None:
        if parts is not None and parts is self.current:
            parts.track.stop()
            self.current = None

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def set_deafened(self, deafened: bool) -> None:
        self.deafened = deafened

    def set_sync_hold(self, hold_ms: float) -> None:
        """Lip sync: hold the peer's voice this much longer than jitter needs (ms)."""
        self.sync_hold_ms = hold_ms
        if self.current is not None:
            self.current.playout.set_hold(hold_ms)

    # -- loops ------------------------------------------------------------------------------
    async def capture_loop(self) -> None:
        assert self.source is not None
        if self._silent_note:
            self._say(self._silent_note)
        while True:
            block = await self.source.next_block()
            pcm = block.pcm
            if self.hooks.mic_filter is not None:
                pcm = self.hooks.mic_filter(pcm, block.capture_ns)
            self.capture_ns_last = block.capture_ns
            db = dbfs(pcm)
            self.in_level = level_of(db)
            self.speaking = self._vad.update(pcm, db) and not self.muted
            for hook in self.hooks.on_mic_audio:
                hook(pcm, block.capture_ns)
            if self.current is not None:
                self.current.track.feed(silence() if self.muted else pcm)
            self._blocks += 1
            if self._blocks % LEVEL_EVERY == 0:
                self._level_due()

    def _level_due(self) -> None:
        """Every :data:`LEVEL_EVERY` blocks: the meter's event, unless it repeats the last
        one sent less than :data:`LEVEL_REPEAT_EVERY` blocks ago."""
        level = VoiceLevel(
            in_level=self.in_level, speaking=self.speaking, peer_speaking=self.peer_speaking
        )
        if level == self._level_sent and self._blocks - self._level_sent_block < LEVEL_REPEAT_EVERY:
            return
        self._level_sent, self._level_sent_block = level, self._blocks
        self._emit(level)

    async def playout_loop(self) -> None:
        """A sound card's clock on monotonic time: one block every 20 ms from the start.

        With a paced microphone (a file, the clip, silence) the ticks fall on the capture
        clock's instants, so the process wakes once per 20 ms for both loops instead of
        twice (issue 14's CPU budget: a wake-up is an epoll round and a cold event-loop
        iteration). Any phase is as good as another for playout: the peer's packets arrive
        on their own clock."""
        start = time.monotonic_ns()
        if isinstance(self.source, PacedSource):
            start += (self.source.epoch_ns - start) % BLOCK_NS
        k = 0
        while True:
            due = start + k * BLOCK_NS
            now = time.monotonic_ns()
            if now - due > MAX_BEHIND_NS and not isinstance(self.sink, WavSink):
                # A sound card that stalled plays on from now. A WAV file instead catches up
                # (blocks written at once), so its sample n stays at start + n / 48 kHz.
                start, k, due = now, 0, now
            elif due > now:
                await asyncio.sleep((due - now) / 1e9)
            k += 1
            parts = self.current
            # Catching up (a starved process), blocks are pulled back to back, like a sound card
            # that underran: what has arrived is played, the rest concealed (and waited for).
            pcm = parts.playout.pull(time.monotonic_ns(), due) if parts is not None else None
            if pcm is None:
                pcm = silence()
            self.peer_speaking = self._peer_vad.update(pcm)
            if self.deafened:
                pcm = silence()
            self.sink.write(pcm, due)
            for hook in self.hooks.on_far_audio:
                hook(pcm, due)

    # -- stats ------------------------------------------------------------------------------
    def stats(self, rtt_ms: float | None) -> dict[str, Any]:
        """The ``voice`` sub-dict of the stats event (contract of issue 14)."""
        parts = self.current
        playout = parts.playout if parts is not None else None
        receiving = playout is not None and playout.cursor is not None
        heard = playout is not None and playout.received > 0
        one_way = (rtt_ms or 0.0) / 2
        values: dict[str, Any] = {
            "on": True,
            "muted": self.muted,
            "deafened": self.deafened,
            "mic": self._name(self.source.description if self.source else "none", self.mic_reason),
            "speaker": self._name(self.sink.description, self.speaker_reason),
            "in_level": self.in_level,
            "speaking": self.speaking,
            "peer_speaking": self.peer_speaking,
            # capture -> playout of a block's first sample: 20 ms of packetisation, the one-way
            # network delay (half the rtt the clock sync measures), its wait in our buffer
            # (the lip-sync hold included: it is what the listener hears).
            # None (not 0) until audio arrives: a front-end shows "unknown", not "no delay".
            "audio_delay_ms": round(BLOCK_MS + one_way + playout.wait_ms, 1)
            if receiving and playout is not None
            else None,
            # The jitter part of the buffer's target, and the lip-sync hold on top of it.
            "jitter_buffer_ms": round(playout.jitter_target_ms, 1) if playout else None,
            "lipsync_hold_ms": round(playout.hold_ms, 1) if playout else self.sync_hold_ms,
            "stretched": playout.stretched if playout else 0,
            "loss_pct": round(playout.loss_pct(), 2) if heard and playout else None,
            "concealed_pct": round(playout.concealed_pct(), 2) if heard and playout else None,
            "packets_received": playout.received if playout else 0,
            "underruns": playout.underruns if playout else 0,
            "skipped": playout.skipped if playout else 0,
        }
        # Where sample 0 of a paced source was captured / of a WAV sink played (monotonic ns):
        # the benchmark turns a correlation lag into mouth-to-ear delay with them.
        if isinstance(self.source, PacedSource):
            values["mic_epoch_ns"] = self.source.epoch_ns
        if isinstance(self.sink, WavSink) and self.sink.start_ns is not None:
            values["speaker_start_ns"] = self.sink.start_ns
        return values

    @staticmethod
    def _name(description: str, reason: str | None) -> str:
        return f"{description} ({reason})" if reason else description

    def close(self) -> None:
        if self.current is not None:
            self.current.track.stop()
        for thing in (self.source, self.sink):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()


def voice_off_stats() -> dict[str, Any]:
    return {"on": False}
