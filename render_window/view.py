"""One avatar on screen: a ring (or the demo) feeding :class:`Motion`, drawn by a renderer.

The window has two: the peer's avatar (remote ring) and the self-view inset (local ring,
mirrored so it behaves like a mirror).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from avatars.avatar3d import is_3d_ref, load_avatar
from avatars.errors import PackError
from avatars.model3d import Model
from avatars.pack import AvatarPack
from i18n import _
from protocol.errors import DecodeError, RingError
from protocol.frame import ParamFrame
from protocol.ring import RingReader, ShmRing

from .demo import DEMO_HZ, demo_frame
from .idle import IdleLife
from .motion import Motion, Sample
from .params import neutral_vector, vector_to_dict
from .renderer import Renderer, RendererError, load_renderer

log = logging.getLogger(__name__)


class AvatarLoadError(Exception):
    """An avatar could not be loaded or drawn (message is user-facing)."""


def fell_back_3d(name: str, reason: str) -> str:
    """Why a 3D avatar is not on screen, in the user's language (the window's ``error`` event
    reaches the TUI as it is, so the sentence is translated here; the reason stays technical).
    The caller keeps, or loads, a 2D avatar in its place."""
    return _(
        "The 3D avatar {name} could not be shown ({reason}); a 2D avatar is shown instead."
    ).format(name=repr(name[:64]), reason=reason)


class AvatarView:
    """An avatar, its motion state and its input source."""

    def __init__(
        self,
        name: str,
        batch: Any,
        order: int,
        *,
        mirror: bool = False,
        seed: int | None = None,
        renderer: str | None = None,
    ) -> None:
        self.name = name
        self.batch = batch
        self.order = order
        self.mirror = mirror
        self.preferred_renderer = renderer
        self.motion = Motion(IdleLife(seed=seed, start=time.monotonic()))
        self.renderer: Renderer | None = None
        self.pack: AvatarPack | Model | None = None
        self.variant: str | None = None
        self.ring: ShmRing | None = None
        self.reader: RingReader | None = None
        #: The reader has a wake-up socket (``attach_ring(wake=True)``).
        self.wakes = False
        self.decode_errors = 0
        self.last_seq = -1
        self.writer_seen = False
        self._demo_start: float | None = None
        self._demo_seq = 0
        self.viewport = (0, 0, 1, 1)
        self.last_sample: Sample | None = None
        #: Drawn at rest, not moving: nobody is behind this avatar (the peer left). Motion
        #: still runs, so screenshots and stats keep their bookkeeping.
        self.frozen = False

    # -- inputs --------------------------------------------------------------------------
    def attach_ring(self, ring_name: str, *, wake: bool = False) -> None:
        """Read frames from ``ring_name``; ``wake`` also subscribes to its wake-up socket (the
        peer's view: the window's pacer presents a frame when it arrives)."""
        try:
            self.ring = ShmRing.attach(ring_name)
            self.reader = self.ring.reader(wake=wake)
            self.wakes = wake
        except RingError as e:
            raise AvatarLoadError(str(e)) from e

    def start_demo(self) -> None:
        self._demo_start = time.monotonic()

    def poll(self, now: float) -> None:
        """Take the newest frame from the ring (or the demo clock) into the motion state."""
        if self.reader is not None:
            self.reader.drain()  # this read covers the wake-ups so far: no wasted early frame
            rec = self.reader.read_latest()
            if rec is not None:
                self.writer_seen = True
                try:
                    frame = ParamFrame.decode(rec.payload)
                except DecodeError as e:
                    self.decode_errors += 1
                    log.debug("%s: dropped a bad frame: %s", self.name, e)
                else:
                    self._push(frame, rec.written_ns / 1e9, rec.capture_ns)
        elif self._demo_start is not None:
            due = int((now - self._demo_start) * DEMO_HZ)
            if due > self._demo_seq:
                self._demo_seq = due
                t = self._demo_start + due / DEMO_HZ
                frame = demo_frame(due, t - self._demo_start, round(t * 1e6))
                self._push(frame, now, round(t * 1e9))  # "captured" on our clock at t

    def _push(self, frame: ParamFrame, arrival: float, capture_ns: int = 0) -> None:
        self.last_seq = frame.seq
        self.motion.push(frame.mirrored() if self.mirror else frame, arrival, capture_ns)

    def writer_lost(self) -> bool:
        """The ring's writer process went away after having written (peer process died)."""
        return self.ring is not None and self.writer_seen and not self.ring.writer_alive()

    # -- avatar --------------------------------------------------------------------------
    def set_avatar(self, ref: str, variant: str | None = None) -> None:
        """Load ``ref`` (built-in id or path); on failure the current avatar stays."""
        try:
            pack = load_avatar(ref, variant)  # a 2D pack, or a glTF/VRM for the 3D renderer
        except PackError as e:
            if is_3d_ref(ref):
                raise AvatarLoadError(fell_back_3d(Path(ref).stem, str(e))) from e
            raise AvatarLoadError(str(e)) from e
        try:
            renderer = load_renderer(
                pack,
                pack.default_variant,
                self.preferred_renderer,
                batch=self.batch,
                order=self.order,
            )
        except RendererError as e:
            if isinstance(pack, Model):  # failed to load on the GPU, or too slow to draw
                raise AvatarLoadError(fell_back_3d(pack.id, str(e))) from e
            raise AvatarLoadError(f"cannot draw avatar {pack.id!r}: {e}") from e
        if self.renderer is not None:
            self.renderer.close()
        self.renderer, self.pack, self.variant = renderer, pack, pack.default_variant
        self.renderer.set_viewport(*self.viewport)
        log.info("%s avatar: %s (%s, variant %s)", self.name, pack.id, renderer.name, self.variant)

    def set_viewport(self, x: int, y: int, w: int, h: int) -> None:
        self.viewport = (x, y, w, h)
        if self.renderer is not None:
            self.renderer.set_viewport(x, y, w, h)

    # -- per frame -----------------------------------------------------------------------
    def update(self, now: float) -> Sample:
        sample = self.motion.sample(now)
        self.last_sample = sample
        if self.renderer is not None:
            params = neutral_vector() if self.frozen else sample.params
            self.renderer.draw(vector_to_dict(params), now)
        return sample

    def hide(self) -> None:
        if self.renderer is not None:
            self.renderer.set_viewport(0, 0, 0, 0)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        if self.ring is not None:
            self.ring.close()
            self.ring = None
