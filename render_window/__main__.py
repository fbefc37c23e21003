"""``python -m render_window``: the avatar render window (see render_window/README.md)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import RenderApp


MAX_SIDE_PX = 8192
"""Largest window side accepted: above any GL_MAX_TEXTURE_SIZE llvmpipe offers for the
offscreen buffers, so a typo gets a clear refusal instead of a GL error deep in the window."""


def _window_side(text: str) -> int:
    """``--width``/``--height``: 1..MAX_SIDE_PX pixels (0 would divide by zero in the view)."""
    try:
        side = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of pixels, got {text!r}"
        ) from None
    if not 1 <= side <= MAX_SIDE_PX:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_SIDE_PX} pixels, got {side}")
    return side


def _frame_rate(text: str) -> float:
    """``--fps``: a finite rate above zero (the pacer's period is its inverse)."""
    try:
        fps = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frames a second, got {text!r}") from None
    if not 0.0 < fps <= 1_000_000.0:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a rate above 0 and at most 1e6, got {text}")
    return fps


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m render_window",
        description="Render the peer's avatar (and a self-view) from parameter rings at 60 FPS.",
    )
    p.add_argument("--remote-ring", help="shm ring with the peer's parameter frames")
    p.add_argument("--local-ring", help="shm ring with our own frames (self-view)")
    p.add_argument("--avatar", help="peer's avatar: built-in id or pack path")
    p.add_argument("--variant", help="variant of --avatar")
    p.add_argument("--self-avatar", help="self-view avatar (default: --avatar)")
    p.add_argument("--self-variant", help="variant of --self-avatar")
    p.add_argument("--no-self-view", action="store_true", help="hide the self-view inset")
    p.add_argument("--width", type=_window_side, default=1280)
    p.add_argument("--height", type=_window_side, default=720)
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--screenshot-dir", type=Path, help="where relative screenshot paths go")
    p.add_argument("--demo", action="store_true", help="drive the avatar(s) with synthetic motion")
    p.add_argument("--renderer", help="preferred renderer plug-in (falls back automatically)")
    p.add_argument("--fps", type=_frame_rate, default=60.0, help="target frame rate (default 60)")
    p.add_argument(
        "--fixed-rate",
        action="store_true",
        help="keep --fps even when the machine is saturated (default: fewer idle frames then, "
        "render_window.pacing.AdaptiveRate)",
    )
    p.add_argument("--vsync", action="store_true", help="also sync to vblank (off: Xvfb)")
    p.add_argument("--seed", type=int, help="seed for idle life (reproducible blinks)")
    p.add_argument(
        "--no-breath",
        action="store_true",
        help="no breathing while tracked (still poses for screenshots and tests)",
    )
    p.add_argument(
        "--low-latency",
        action="store_true",
        help="playout delay from jitter only, extrapolating between frames (~1 frame less "
        "latency, brief overshoot on sudden stops)",
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="render one posed frame of --avatar to OUT.png and exit (no rings needed)",
    )
    p.add_argument(
        "--pose",
        metavar="JSON",
        help='with --screenshot: {"headYaw": 0.3, ...} (ranges: avatars/FORMAT.md; weights are '
        "clamped to 0..1, head turns must be within +-pi/2 radians)",
    )
    p.add_argument("--emotion", metavar="NAME[:WEIGHT]", help="with --screenshot: happy:0.8")
    p.add_argument("--time", type=float, default=0.0, help="with --screenshot: animation time (s)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.screenshot is None:
        # The window takes its pose from the rings: a --pose there would be silently ignored.
        given = [
            f for f, v in (("--pose", args.pose), ("--emotion", args.emotion)) if v is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            p.error(f"{' and '.join(given)} only {verb} with --screenshot OUT.png")
    return args


def _screenshot(args: argparse.Namespace) -> int:
    """One frame to a PNG (render_window/shot.py); exit 0, or 2 with the reason."""
    _software_gl_threads()
    from .shot import ShotError, parse_pose, screenshot

    try:
        pose = parse_pose(args.pose, args.emotion)
        used = screenshot(
            args.avatar or "aria",
            args.screenshot,
            pose,
            width=args.width,
            height=args.height,
            renderer=args.renderer,
            t=args.time,
            variant=args.variant,
        )
    except ShotError as e:
        print(f"render_window: {e}", file=sys.stderr)
        return 2
    print(f"{args.screenshot} ({used})")
    return 0


log = logging.getLogger(__name__)

#: At most this many CPUs: Mesa llvmpipe rasterises on the render thread (LP_NUM_THREADS=0).
SERIAL_RASTER_MAX_CPUS = 2


def _software_gl_threads() -> None:
    """On a small machine, llvmpipe's rasteriser threads (one per CPU) buy no speed: the render
    thread only waits for them, and each frame needs three threads scheduled instead of one, next
    to tracking and networking. Measured on 2 cores (bench_render, 1280x720): same work time,
    frame p99 19-21 ms instead of 22-28 ms. An explicit LP_NUM_THREADS wins; other drivers
    ignore it."""
    if (os.cpu_count() or 1) <= SERIAL_RASTER_MAX_CPUS:
        os.environ.setdefault("LP_NUM_THREADS", "0")


def install_signal_handlers(app_ref: list[RenderApp]) -> None:
    """SIGTERM/SIGINT end the loop cleanly (rings closed, ``bye`` sent)."""
    import signal

    def stop(signum: int, _frame: Any) -> None:
        for app in app_ref:
            app.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="render_window: %(levelname)s %(name)s: %(message)s",
    )
    if args.screenshot is not None:
        return _screenshot(args)
    import i18n
    from protocol.channel import ChildChannel, private_stdout
    from protocol.events import Bye, Error

    # The banners speak the parent's language ($AVATARCHAT_LANG from the TUI), else the locale.
    i18n.setup()

    # A person at a terminal gets words, not the JSON lines a parent process reads.
    at_terminal = sys.stdout.isatty()
    channel = ChildChannel(output=None if at_terminal else private_stdout(), quiet=at_terminal)

    def fail(message: str) -> int:
        print(f"render_window: {message}", file=sys.stderr)
        if not channel.quiet:
            channel.emit(Error(message=message, fatal=True))
        channel.close()
        return 2

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return fail(
            i18n._(
                "no display to open a window on: DISPLAY is not set (run it in a desktop "
                "session, or under Xvfb: xvfb-run python -m render_window --demo)"
            )
        )

    _software_gl_threads()
    import pyglet

    # No hidden shadow window: it needs a context of its own and buys nothing here.
    pyglet.options["shadow_window"] = False
    pyglet.options["vsync"] = args.vsync
    # pyglet checks glGetError after every GL call by default: the 3D renderer makes ~500
    # calls a frame, and that check cost ~6 ms of them on llvmpipe. -v keeps it on.
    pyglet.options["debug_gl"] = args.verbose

    from .app import Options, RenderApp, StartupError

    opts = Options(
        remote_ring=args.remote_ring,
        local_ring=args.local_ring,
        avatar=args.avatar,
        variant=args.variant,
        self_avatar=args.self_avatar,
        self_variant=args.self_variant,
        self_view=not args.no_self_view,
        width=args.width,
        height=args.height,
        fullscreen=args.fullscreen,
        screenshot_dir=args.screenshot_dir,
        demo=args.demo,
        renderer=args.renderer,
        fps=args.fps,
        vsync=args.vsync,
        seed=args.seed,
        breathe=not args.no_breath,
        low_latency=args.low_latency,
        adaptive_rate=not args.fixed_rate,
    )
    apps: list[RenderApp] = []
    install_signal_handlers(apps)
    try:
        app = RenderApp(opts, channel)
        apps.append(app)
        app.start()
    except StartupError as e:
        if apps:
            apps[0].close()
        return fail(str(e))
    channel.start()
    # Everything allocated so far (modules, atlas, GL objects) lives as long as the window: take
    # it out of the collector's sight, so a full collection (13 ms measured) never stalls a frame.
    gc.collect()
    gc.freeze()
    try:
        app.run()
    finally:
        app.close()
        if channel.dropped:
            log.info("dropped %d stats events the parent did not read in time", channel.dropped)
        channel.emit(Bye())
        channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
