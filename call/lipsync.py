"""Two-sided lip sync: which stream waits for the other, the voice or the avatar.

Each stream reaches the user after its own delay from the instant it was captured: the voice
after ``audio_delay_ms`` (the networking process's ``voice`` stats: packetisation, network,
jitter buffer), the avatar after the window's own path (:class:`protocol.events.VideoPathDelay`:
tracking, network, the motion's playout delay, drawing). Whichever is ahead has to wait:

- the **voice** is slower (the usual case on a quiet machine): the window holds the avatar
  back by the voice's delay (:class:`protocol.commands.SetPeerDelay`, routed by
  :class:`call.session.Call` as before; the window never shows a frame earlier than its path
  allows, so that alone is exact);
- the **avatar** is slower (a busy machine: tracking and a slow window can take a few hundred
  ms): no hold in the window helps, so the networking process holds the *voice* back by the
  difference (:class:`protocol.commands.SetSyncHold`, the playout buffer's lip-sync hold).

:func:`next_hold` decides the voice's hold the way WebRTC's ``StreamSynchronization::
ComputeDelays`` (video/stream_synchronization.cc) moves its extra audio delay: from the
difference between the two current delays (the voice's *including* the hold already applied,
so it is a closed loop that settles where the difference is inside a dead band), moving by
half the difference (WebRTC: ``avg_diff_ms_ / 2``: the buffer needs a moment to realise a
change, and the half step keeps the loop from overshooting while it does) and at most
:data:`STEP_MS` per decision (WebRTC: ``kMaxChangeMs`` = 80 per second; ours is smaller
because the voice must not jump: the playout buffer grows and sheds the depth 20 ms at a time
in pauses, see :mod:`peer.voice.playout`). Dead band :data:`DEADBAND_MS` (WebRTC: 30 ms); we
use less because our target is a skew p95 of 40 ms (ITU-R BT.1359: voice *ahead* of the face,
which is what a slow avatar means, is noticed from about 45 ms, where voice behind is noticed
only from about 125 ms).

The hold is capped at :data:`HOLD_CAP_MS`. Why: the voice is the conversation and the face its
decoration. The voice's own path is already 60-130 ms; ITU-T G.114 puts 150 ms mouth-to-ear
as the limit where turn-taking starts to suffer, and with a hold beyond 150 ms a badly
overloaded window (one that takes half a second to show a frame) would make every reply wait
for it. Past the cap the lips stay early rather than the voice becoming unusable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Most the voice is ever held back for the avatar (ms): see the module docstring.
HOLD_CAP_MS = 150.0
#: Largest change of the hold per decision (ms; decisions come with the networking process's
#: stats, about once a second).
STEP_MS = 40.0
#: Differences smaller than this (ms) leave the hold as it is.
DEADBAND_MS = 10.0
#: A window report older than this (s) is not a measurement any more (the window stopped
#: showing the peer: closed, face gone, peer left): the hold is released.
VIDEO_STALE_S = 3.0


def next_hold(hold_ms: float, video_ms: float | None, audio_ms: float | None) -> float:
    """The voice's next lip-sync hold (ms) from the current one, the avatar's own path
    (``video_ms``) and the voice's current delay, hold included (``audio_ms``). None for
    either (no window report, no voice flowing): no hold. Pure; see the module docstring."""
    if video_ms is None or audio_ms is None:
        return 0.0
    if not (math.isfinite(video_ms) and math.isfinite(audio_ms) and math.isfinite(hold_ms)):
        return 0.0
    diff = video_ms - audio_ms  # > 0: the face is later than the voice
    if abs(diff) < DEADBAND_MS:
        return hold_ms
    step = max(-STEP_MS, min(STEP_MS, diff / 2.0))
    return round(max(0.0, min(HOLD_CAP_MS, hold_ms + step)), 1)


def heard_audio_delay_ms(voice: Any) -> float | None:
    """The voice's current delay (ms) as the user hears it, from the networking process's
    ``voice`` stats: None when voice is off, deafened (nobody hears it) or the figure is not a
    finite number (no audio flowing yet). Both directions of lip sync read it here."""
    if not (isinstance(voice, dict) and voice.get("on") and not voice.get("deafened")):
        return None
    raw = voice.get("audio_delay_ms")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    return None


@dataclass(slots=True)
class SyncController:
    """The state between decisions: the hold sent, the newest window report and when."""

    hold_ms: float = 0.0
    video_ms: float | None = None
    video_at: float = -math.inf
    #: The hold last sent to the networking process (None: not yet, or it restarted).
    sent: float | None = None

    def video(self, delay_ms: float, now: float) -> None:
        """A :class:`protocol.events.VideoPathDelay` from the window at ``now`` (s)."""
        self.video_ms, self.video_at = delay_ms, now

    def decide(self, voice: Any, now: float) -> float | None:
        """With the networking process's ``voice`` stats at ``now``: the hold to send, or None
        when nothing needs sending. No voice, deafened (nobody hears it) or no audio flowing:
        no hold."""
        audio = heard_audio_delay_ms(voice)
        video = self.video_ms if now - self.video_at <= VIDEO_STALE_S else None
        self.hold_ms = next_hold(self.hold_ms, video, audio)
        if self.hold_ms == (self.sent if self.sent is not None else 0.0):
            return None
        return self.hold_ms
