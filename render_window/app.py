"""The render window process: window, layout, overlays, commands, stats and the paced loop.

Loop per frame: dispatch window events, apply stdin commands, read the rings, ``update`` (motion
and renderer state for the expected flip time: now plus the median frame work), ``on_draw``
(clear + ``batch.draw()``), read back a requested screenshot, flip, record capture -> present for
the peer's frames that just reached the screen (reported in ``stats``; the capture time comes
from the ring slot, already on this host's clock), then wait for the next 1/60 s deadline
(:class:`FramePacer`) - or, without a lip-sync delay, sooner: from the moment the peer's next
frame first shows (its arrival, read at once on the remote ring's wake-up socket, or a moment
later when the playout clock reaches it), so it is not held to the next tick. On a saturated
machine the ticks slow down (:class:`AdaptiveRate`) so the window stops drawing idle frames
back to back with the CPU the tracker needs; the peer's frames are still presented when due.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyglet
from pyglet import gl

import i18n
from avatars.pack import builtin_ids
from i18n import _
from protocol.channel import ChildChannel
from protocol.commands import (
    Command,
    Fullscreen,
    Quit,
    ResetStats,
    Resize,
    SelfView,
    SetPeerDelay,
    ShowGesture,
    ShowOverlay,
    ShowPeerAvatar,
    ShowPeerName,
    ShowSelfAvatar,
    TakeScreenshot,
)
from protocol.events import (
    AvatarShown,
    Error,
    OverlayShown,
    Ready,
    Stats,
)
from protocol.frame import FrameFlags
from protocol.ring import RingReader

from .capture import read_pixels
from .gesture import GestureBursts
from .overlay import CallOverlay, banner_font, window_title
from .pacing import ARRIVAL, AdaptiveRate, FramePacer, FrameStats
from .screenshots import ScreenshotQueue
from .view import AvatarLoadError, AvatarView

log = logging.getLogger(__name__)

#: Background: a dark slate, so both light and dark avatars read against it.
BACKGROUND = (0.11, 0.12, 0.15, 1.0)
#: Self-view inset: fraction of the window's shorter side, and its margin in pixels.
INSET_FRACTION = 0.3
INSET_MARGIN = 16
STATS_PERIOD_S = 1.0
DEFAULT_AVATAR = "aria"


@dataclass
class Options:
    remote_ring: str | None = None
    local_ring: str | None = None
    avatar: str | None = None
    variant: str | None = None
    self_avatar: str | None = None
    self_variant: str | None = None
    self_view: bool = True
    width: int = 1280
    height: int = 720
    fullscreen: bool = False
    screenshot_dir: Path | None = None
    demo: bool = False
    renderer: str | None = None
    fps: float = 60.0
    vsync: bool = False
    seed: int | None = None
    breathe: bool = True
    low_latency: bool = False
    #: Fewer idle frames when the machine is saturated (False: ``--fixed-rate``).
    adaptive_rate: bool = True


class StartupError(Exception):
    """Expected startup failure (no display, bad ring, no avatar): one line for the user."""


class RenderApp:
    def __init__(self, opts: Options, channel: ChildChannel) -> None:
        self.opts = opts
        #: The parent's control channel: typed commands in, typed events out.
        self.channel = channel
        self.running = True
        self.window = self._make_window()
        self.batch = pyglet.graphics.Batch()
        self.peer = AvatarView("peer", self.batch, 1, seed=opts.seed, renderer=opts.renderer)
        self.self_view = AvatarView(
            "self",
            self.batch,
            4,
            mirror=True,
            seed=None if opts.seed is None else opts.seed + 1,
            renderer=opts.renderer,
        )
        self.peer.motion.breathe = self.self_view.motion.breathe = opts.breathe
        self.peer.motion.low_latency = self.self_view.motion.low_latency = opts.low_latency
        self.show_self = opts.self_view and (opts.local_ring is not None or opts.demo)
        self._inset_bg = pyglet.shapes.BorderedRectangle(
            0,
            0,
            1,
            1,
            border=2,
            color=(24, 26, 33, 255),
            border_color=(90, 96, 112, 255),
            batch=self.batch,
            group=pyglet.graphics.Group(order=3),
        )
        #: None: no font with Hangul is installed (Korean banners would be empty boxes).
        self.banner_font = banner_font()
        # Draw order: peer 1, the veil over a peer who left 2, inset 3-4, banner 5-6.
        self.overlay = CallOverlay(self.batch, self.banner_font, veil_order=2, banner_order=5)
        #: The peer's gestures: over their avatar, under our inset and the banner (beside the
        #: veil, which only covers a peer who left and so sends no gestures).
        self.gestures = GestureBursts(self.batch, self.banner_font, order=2)
        self.screenshots = ScreenshotQueue(channel, opts.screenshot_dir)
        self.stats = FrameStats()
        self.pacer = FramePacer(opts.fps)
        self.rate = AdaptiveRate(opts.fps, enabled=opts.adaptive_rate)
        self._rate_frames = 0
        self._last_stats = time.monotonic()
        self.window.push_handlers(
            on_resize=self._on_resize, on_close=self._on_close, on_key_press=self._on_key
        )

    # -- setup ---------------------------------------------------------------------------
    def _make_window(self) -> pyglet.window.Window:
        config = gl.Config(  # type: ignore[abstract]  # pyglet picks the platform class
            major_version=3,
            minor_version=3,
            forward_compatible=True,
            double_buffer=True,
            # The 3D renderer (gl3d) depth-tests, and clears depth in its own viewport only.
            depth_size=24,
        )
        try:
            # Fullscreen takes the screen's size: passing width/height as well would ask
            # pyglet to change the screen mode instead (and on Xvfb silently keep the size).
            size = () if self.opts.fullscreen else (self.opts.width, self.opts.height)
            window = pyglet.window.Window(
                *size,
                caption="avatarchat",
                resizable=True,
                config=config,
                vsync=self.opts.vsync,
                fullscreen=self.opts.fullscreen,
            )
        except _display_errors() as e:
            display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or "(none)"
            why = _("cannot open a window on display {display}: is its X server running?")
            raise StartupError(f"{why.format(display=display)} (pyglet: {e})") from e
        except (pyglet.window.NoSuchConfigException, pyglet.gl.ContextException) as e:
            why = _("no OpenGL 3.3 core context on this display: {error}")
            raise StartupError(why.format(error=e)) from e
        return window

    def start(self) -> None:
        o = self.opts
        try:
            if o.remote_ring:
                self.peer.attach_ring(o.remote_ring, wake=True)
            if o.local_ring:
                self.self_view.attach_ring(o.local_ring)
        except AvatarLoadError as e:
            raise StartupError(str(e)) from e
        if o.demo:
            if not o.remote_ring:
                self.peer.start_demo()
            if not o.local_ring:
                self.self_view.start_demo()
        self._load_initial(self.peer, o.avatar, o.variant)
        if self.show_self:
            self._load_initial(self.self_view, o.self_avatar or o.avatar, o.self_variant)
        self._layout()
        info = self.window.context.get_info()
        ready = {
            "renderer": self.peer.renderer.name if self.peer.renderer else None,
            "avatar": self.peer.pack.id if self.peer.pack else None,
            "variant": self.peer.variant,
            "self_avatar": self.self_view.pack.id if self.self_view.pack else None,
            "width": self.window.width,
            "height": self.window.height,
            "gl_renderer": info.get_renderer(),
            "gl_version": info.get_version_string(),
            "language": i18n.current_language(),
            "banner_font": self.banner_font,
            # The X window id (xlib only): lets a test read the title the way a desktop does.
            "x_window": getattr(self.window, "_window", None),
        }
        self.channel.emit(Ready(info=ready))

    def _load_initial(self, view: AvatarView, ref: str | None, variant: str | None) -> None:
        tried: list[str] = []
        refs = [ref] if ref else []
        refs += [r for r in [DEFAULT_AVATAR, *builtin_ids()] if r not in refs]
        for r in refs:
            try:
                view.set_avatar(r, variant if r == ref else None)
                if tried:
                    self.channel.emit(Error(message=tried[0]))
                return
            except AvatarLoadError as e:
                tried.append(str(e))
        why = tried[0] if tried else _("no built-in avatars")
        raise StartupError(_("no avatar could be loaded: {error}").format(error=why))

    # -- window events -------------------------------------------------------------------
    def _on_resize(self, width: int, height: int) -> None:
        self._layout()

    def _on_close(self) -> bool:
        self.running = False
        return pyglet.event.EVENT_HANDLED

    def _on_key(self, symbol: int, modifiers: int) -> bool:
        key = pyglet.window.key
        if symbol == key.F11 or (symbol == key.F and not modifiers):
            self.set_fullscreen(not self.window.fullscreen)
        elif symbol == key.ESCAPE and self.window.fullscreen:
            self.set_fullscreen(False)
        # Swallow Escape otherwise: pyglet's default would close the window mid-call.
        return pyglet.event.EVENT_HANDLED

    def set_fullscreen(self, on: bool) -> None:
        if bool(on) != self.window.fullscreen:
            if on:
                self.window.set_fullscreen(True)
            else:  # back to the size asked for on the command line
                self.window.set_fullscreen(False, width=self.opts.width, height=self.opts.height)
            self._layout()

    def _layout(self) -> None:
        fw, fh = self.window.get_framebuffer_size()
        ww, wh = self.window.width, self.window.height
        self.peer.set_viewport(0, 0, fw, fh)
        right = 0.0  # of the window's width, what the inset takes (with its margins)
        if self.show_self:
            side = int(min(fw, fh) * INSET_FRACTION)
            ratio = fw / max(1, ww)
            x = fw - side - int(INSET_MARGIN * ratio)
            y = int(INSET_MARGIN * ratio)
            self.self_view.set_viewport(x, y, side, side)
            # shapes draw in window coordinates
            self._inset_bg.position = (x / ratio, y / ratio)
            self._inset_bg.width = self._inset_bg.height = side / ratio
            self._inset_bg.visible = True
            right = (side + 2 * INSET_MARGIN * ratio) / ratio
        else:
            self.self_view.hide()
            self._inset_bg.visible = False
        self.overlay.layout(ww, wh, right)
        self.gestures.layout(0, 0, ww, wh)

    # -- commands ------------------------------------------------------------------------
    def handle(self, cmd: Command) -> None:
        try:
            if isinstance(cmd, Quit):
                self.running = False
            elif isinstance(cmd, ShowPeerAvatar):
                self.peer.set_avatar(cmd.ref, cmd.variant)
                self._emit_avatar(self.peer)
            elif isinstance(cmd, ShowSelfAvatar):
                self.self_view.set_avatar(cmd.ref, cmd.variant)
                self._layout()
                self._emit_avatar(self.self_view)
            elif isinstance(cmd, SelfView):
                self.show_self = cmd.on
                if self.show_self and self.self_view.renderer is None:
                    self._load_initial(
                        self.self_view, self.opts.self_avatar or self.opts.avatar, None
                    )
                self._layout()
            elif isinstance(cmd, ShowOverlay):
                self.overlay.command(cmd, time.monotonic())
            elif isinstance(cmd, ShowGesture):
                self.gestures.show(cmd.name, cmd.side)
            elif isinstance(cmd, ShowPeerName):
                self.window.set_caption(window_title(cmd.name))
            elif isinstance(cmd, TakeScreenshot):
                self.screenshots.add(cmd.fields())
            elif isinstance(cmd, ResetStats):
                self.stats.reset_run()
            elif isinstance(cmd, SetPeerDelay):
                # Lip sync: show the peer as late as their voice plays (render_window.lipsync).
                self.peer.motion.lipsync.set_target(cmd.delay_ms)
                self.stats.peer_delay_ms = cmd.delay_ms
            elif isinstance(cmd, Resize):
                self.window.set_size(cmd.width, cmd.height)
                self._layout()
            elif isinstance(cmd, Fullscreen):
                self.set_fullscreen(cmd.on)
            else:
                log.warning("ignoring %s: not a render window command", cmd.KIND)
        except AvatarLoadError as e:
            self.channel.emit(Error(message=str(e)))

    def _emit_avatar(self, view: AvatarView) -> None:
        assert view.pack is not None
        self.channel.emit(
            AvatarShown(
                view="peer" if view is self.peer else "self",
                avatar=view.pack.id,
                name=view.pack.name,
                variant=view.variant,
                renderer=view.renderer.name if view.renderer else None,
            )
        )

    # -- overlays ------------------------------------------------------------------------
    def _auto_overlay(self, now: float) -> str:
        if self.peer.reader is None:
            return ""
        if self.peer.writer_lost():
            return "peer_lost"
        if self.peer.motion.frames_received == 0:
            return "connecting"
        sample = self.peer.last_sample
        paused = bool(self.peer.motion.last_flags & FrameFlags.PAUSED)
        if sample is not None and sample.idle_weight > 0.5 and paused:
            return "paused"
        return ""

    def _update_overlay(self, now: float) -> None:
        state = self.overlay.update(now, lambda: self._auto_overlay(now))
        # Nobody behind the peer's avatar: it rests, frozen (and the overlay veils it).
        self.peer.frozen = self.overlay.peer_gone
        if state is not None:
            self.channel.emit(OverlayShown(state=state))

    # -- the loop ------------------------------------------------------------------------
    def _arrival_wake(self) -> RingReader | None:
        """The remote ring's reader to wake the pacer on, or None: with a lip-sync delay the
        peer is shown as late as their voice plays, so presenting on arrival gains nothing
        (the voice path keeps the fixed clock and its even frames)."""
        reader = self.peer.reader
        if reader is None or not self.peer.wakes or self.peer.motion.lipsync.target > 0.0:
            return None
        return reader

    def _peer_due(self, work_s: float) -> float | None:
        """perf_counter time to start the frame that first shows the peer's next frame: the
        moment it shows (Motion.next_shown_at) less the frame's work (each frame is posed for
        its flip time), or None."""
        at = self.peer.motion.next_shown_at()
        if at is None:
            return None
        return at - work_s - time.monotonic() + time.perf_counter()

    def _wait(self, pacer: FramePacer) -> None:
        """Until the next frame starts: the pacer's tick, or sooner for a peer frame that
        arrives (read at once, so its moment on screen is known) and is due to show."""
        wake = self._arrival_wake()
        work = self.stats.work_p50(pacer.period)
        due = self._peer_due(work) if wake is not None else None
        while pacer.wait(wake, due) == ARRIVAL and self.running:
            self.peer.poll(time.monotonic())
            due = self._peer_due(work)

    def run(self) -> None:
        pacer = self.pacer = FramePacer(self.opts.fps)
        while self.running:
            t0 = time.perf_counter()
            self.window.dispatch_events()
            for cmd in self.channel.pending():
                self.handle(cmd)
            if not self.running:
                break
            now = time.monotonic()
            self.peer.poll(now)
            if self.show_self:
                self.self_view.poll(now)
            # Pose for the moment this frame reaches the screen (after drawing and the flip,
            # ~8 ms on llvmpipe, more under load), not for the moment we start drawing it.
            sample = self.update(now + self.stats.work_p50(pacer.period))
            self.on_draw()
            shots = self.screenshots.due(sample)
            pixels = read_pixels(*self.window.get_framebuffer_size()) if shots else None
            t_flip = time.perf_counter()
            self.window.flip()
            present_ns = time.monotonic_ns()
            t1 = time.perf_counter()
            self.stats.presented(t1, t1 - t0)
            self.stats.flipped(t1 - t_flip)
            for shown in sample.newly_shown:
                self.stats.shown(shown, present_ns)
            lips = self.peer.motion.lipsync
            if sample.shown_seq >= 0 and (sample.idle_weight < 1.0 or lips.mouth_w > 0.0):
                self.stats.lip(present_ns, lips.shown_ns)
                lips.presented(present_ns)
            if pixels is not None:
                for shot in shots:
                    self.screenshots.save(shot, pixels, sample, present_ns)
            if now - self._last_stats >= STATS_PERIOD_S:
                self._adapt_rate(pacer, now - self._last_stats)
                self._last_stats = now
                self._emit_stats()
            self._wait(pacer)

    def _adapt_rate(self, pacer: FramePacer, elapsed: float) -> None:
        """Once a stats period: the tick rate for the machine's load (AdaptiveRate)."""
        fps = (self.stats.frames - self._rate_frames) / elapsed
        self._rate_frames = self.stats.frames
        work = self.stats.work_p50(1.0) * 1000.0  # CPU, its own and the machine's: measured there
        if self.rate.update(fps, work_ms=work or None):
            log.info(
                "%s rate: CPUs %.0f%% busy",
                "economy" if self.rate.economy else "full",
                (self.rate.busy or 0.0) * 100,
            )
        pacer.set_fps(self.rate.fps(ticks_only=self._arrival_wake() is None))

    def update(self, now: float) -> Any:
        """Advance motion and renderer state to ``now`` (no drawing)."""
        self._update_overlay(now)
        self.gestures.update(now)
        sample = self.peer.update(now)
        if self.show_self:
            self.self_view.update(now)
        return sample

    def on_draw(self) -> None:
        gl.glClearColor(*BACKGROUND)
        # Colour only: clearing the whole depth buffer too cost llvmpipe 1.5-2.5 ms a frame at
        # 1280x720, and only the 3D renderer reads depth - it clears it within its viewport.
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        self.batch.draw()

    def _emit_stats(self) -> None:
        m = self.peer.motion
        snap = self.stats.snapshot()
        values = {
            **snap,
            "frames": self.stats.frames,
            "frames_received": m.frames_received,
            "last_seq": self.peer.last_seq,
            "decode_errors": self.peer.decode_errors,
            "playout_delay_ms": round(m.delay * 1000, 2),
            "jitter_ms": round(m.jitter * 1000, 2),
            "idle": round(m.idle_weight, 3),
            "peer_delay_ms": round(m.lipsync.applied * 1000.0, 1),
            "peer_delay_target_ms": round(m.lipsync.target * 1000.0, 1),
            "voice_mouth": round(m.lipsync.mouth_w, 3),
            "peer_video_path_ms": m.lipsync.path_ms(),
            "presented_early": self.pacer.early,
            "rate_fps": round(1.0 / self.pacer.period, 1),
            "economy": self.rate.economy,
            "system_cpu": None if self.rate.busy is None else round(self.rate.busy * 100, 1),
        }
        self.channel.emit(Stats(t=round(time.monotonic(), 6), values=values))
        path = m.lipsync.report()  # lip sync: call/ may hold the voice back by the difference
        if path is not None:
            self.channel.emit(path)

    def close(self) -> None:
        self.gestures.close()
        self.peer.close()
        self.self_view.close()
        self.window.close()


def _display_errors() -> tuple[type[BaseException], ...]:
    """pyglet raises a platform module's own NoSuchDisplayException (not the one in
    pyglet.window) when the X server cannot be reached."""
    errors: list[type[BaseException]] = [pyglet.window.NoSuchDisplayException]
    try:
        from pyglet.display.xlib import NoSuchDisplayException as XlibNoDisplay

        errors.append(XlibNoDisplay)
    except ImportError:  # not on X11
        pass
    return tuple(errors)
