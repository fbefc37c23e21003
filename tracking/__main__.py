"""``python -m tracking``: the tracking process (child of the TUI, or headless).

Modes: with ``--json`` it prints one seed-format JSON object per frame on stdout (debugging,
interop; stdin is not read). Otherwise it is a child: control events on stdout, commands on
stdin (see :mod:`tracking.runner`), frames into the ring named by ``--ring`` (created by the
parent; we attach as its single writer) or, headless, into a ring of its own whose name the
``ready`` event carries. Expected faults (no model, a bad source) print one line - and, as a
child, a fatal ``error`` event - and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from .model import MODEL_SHA256, keep_unused_libraries_out, quiet_native_logs

if TYPE_CHECKING:
    from protocol.ring import ShmRing

    from .body_policy import BodyGovernor

log = logging.getLogger("tracking")

EXIT_USAGE = 2


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="python -m tracking",
        description="Face tracking: camera or clip -> parameter frames (no image leaves it).",
    )
    p.add_argument(
        "--source",
        default="sample",
        help="camera:N, /dev/videoN, a .mp4/.jpg/.png path, 'sample' (the vendored "
        "clip), 'synthetic' or vmc:PORT / vmc:HOST:PORT (a VMC sender such as a phone "
        "tracker; loopback unless a host is given) (default: sample)",
    )
    p.add_argument("--ring", metavar="NAME", help="attach to this existing shm ring as its writer")
    p.add_argument(
        "--json", action="store_true", help="print one seed-format JSON object per frame on stdout"
    )
    p.add_argument(
        "--fps", type=float, help="pace clips/stills/synthetic at this rate; ask a camera for it"
    )
    p.add_argument(
        "--clip-epoch-ns",
        type=int,
        metavar="NS",
        help="play a clip on this CLOCK_MONOTONIC timeline (frame k at NS + k/fps, skipping "
        "frames rather than falling behind): the call passes the same instant to the networking "
        "process, which plays the clip's audio, so voice and face stay together",
    )
    p.add_argument("--width", type=int, help="frame width (camera request, or resize)")
    p.add_argument("--height", type=int, help="frame height")
    p.add_argument(
        "--mirror",
        action="store_true",
        help="selfie view: track the horizontally flipped image and correct left/right back "
        "(frames stay the subject's own left/right)",
    )
    p.add_argument(
        "--flip",
        action="store_true",
        help="flip the source image horizontally, uncorrected (undoes a camera that mirrors "
        "in hardware)",
    )
    p.add_argument(
        "--model", metavar="PATH", help="face_landmarker.task to use instead of the vendored one"
    )
    p.add_argument(
        "--model-sha256",
        default=MODEL_SHA256,
        metavar="HEX",
        help="expected SHA-256 of --model ('any' skips the check)",
    )
    p.add_argument(
        "--unpaced", action="store_true", help="read clips as fast as possible (benchmarks)"
    )
    p.add_argument("--no-loop", action="store_true", help="play a clip once, then exit")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--calibrate",
        type=float,
        metavar="S",
        help="record S seconds of neutral face at start (saved to the config dir)",
    )
    p.add_argument("--no-calibration", action="store_true", help="ignore the stored calibration")
    p.add_argument(
        "--body",
        choices=("on", "off", "auto"),
        default="auto",
        help="track hands and upper body beside the face (auto: on when the machine has at "
        "least 2 CPU cores, and off again if tracking then stays below 30 fps)",
    )
    p.add_argument("--list-cameras", action="store_true", help="list cameras and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    return p


def body_enabled(choice: str) -> bool:
    """``--body``: on, off, or auto = on when the CPU allows it. The hand and pose models add
    about 5 ms per frame on average (they take turns, see tracking.body), which one core of a
    2-core machine absorbs within the budget; a single core shared with the render window and
    the call would not. Whether the budget really holds is measured while running: see
    :func:`body_governor`."""
    if choice == "auto":
        import os

        return (os.cpu_count() or 1) >= 2
    return choice == "on"


def body_governor(choice: str, source_fps: float | None) -> BodyGovernor | None:
    """``--body auto`` keeps measuring (:mod:`tracking.body_policy`): tracking at 30 fps is a
    product target, the body is not, so the body goes off if tracking stays below it. ``on``
    and ``off`` are the user's word and are kept."""
    from .body_policy import BodyGovernor

    return BodyGovernor(source_fps=source_fps) if choice == "auto" else None


def last_seq(ring: ShmRing) -> int:
    """The sequence number of the newest frame already in ``ring`` (0 if none).

    A tracker restarted after a crash writes into the ring its predecessor used; if it began
    again at 1, every receiver would drop its frames as older than the ones it already has,
    and the peer's avatar would freeze for as long as the call had run. Continuing from the
    ring keeps the stream one stream."""
    from protocol.errors import DecodeError
    from protocol.frame import ParamFrame

    reader = ring.reader()
    try:
        record = reader.read_latest()
        return ParamFrame.decode(record.payload).seq if record is not None else 0
    except DecodeError:
        return 0
    finally:
        reader.close()


def run(args: argparse.Namespace) -> int:
    """Run with parsed arguments; returns the exit status."""
    quiet_native_logs()
    keep_unused_libraries_out()
    # Imports after these two: mediapipe reads the glog settings when first loaded.
    from protocol.channel import ChildChannel, private_stdout, stop_on_signals
    from protocol.errors import RingError
    from protocol.events import Bye, Error, Ready
    from protocol.ring import ShmRing

    from .calibration import load_calibration
    from .camera import list_cameras
    from .config import load_settings
    from .errors import TrackingError
    from .pipeline import Tracker
    from .runner import TrackingLoop
    from .smoothing import SmoothingConfig
    from .sources import parse_source

    if args.list_cameras:
        cameras = list_cameras()
        for cam in cameras:
            print(f"camera:{cam.index}\t{cam.path}\t{cam.name}")
        if not cameras:
            print("no cameras found (use --source sample for the built-in clip)", file=sys.stderr)
        return 0

    child = not args.json
    out = private_stdout()
    channel = ChildChannel(output=out, quiet=not child)
    stop = stop_on_signals()

    ring: ShmRing | None = None
    tracker: Tracker | None = None
    source = None
    writer = None
    try:
        try:
            settings = load_settings()
            smoothing = SmoothingConfig.from_settings(settings)
        except ValueError as e:
            log.warning("ignoring smoothing settings: %s", e)
            smoothing = SmoothingConfig()
        source = parse_source(
            args.source,
            fps=args.fps,
            width=args.width,
            height=args.height,
            flip=args.flip,
            paced=not args.unpaced,
            loop=not args.no_loop,
            clip_epoch_ns=args.clip_epoch_ns,
        )
        # The stored calibration is our camera's resting face; a VMC sender calibrates itself.
        external = source.kind == "vmc"
        calibration = None if args.no_calibration or external else load_calibration()
        sha = None if str(args.model_sha256).lower() == "any" else args.model_sha256
        tracker = Tracker(
            model_path=args.model,
            model_sha256=sha,
            mirror=args.mirror,
            smoothing=smoothing,
            calibration=calibration,
            load_model=source.kind not in ("synthetic", "vmc"),
            body=body_enabled(args.body) and source.kind not in ("synthetic", "vmc"),
            # The face frame goes into the ring before this image's hand/pose model runs.
            defer_body=True,
        )
        if args.calibrate:
            tracker.start_calibration(args.calibrate)
        if args.ring:
            ring = ShmRing.attach(args.ring)
            tracker.seq = last_seq(ring)
        elif child:
            ring = ShmRing.create("local")
        writer = ring.writer() if ring is not None else None
        try:
            source.open()
        except TrackingError as e:
            if source.kind != "camera":
                raise
            log.warning("%s", e)  # the loop reports it as camera_error and retries
        info = {
            "source": source.description,
            "fps": source.fps,
            "ring": ring.name if ring is not None else None,
            "calibrated": calibration is not None,
            "mirror": args.mirror,
            "body": tracker.body_tracker is not None,
        }
        channel.emit(Ready(info=info))
        if child:
            channel.start()
        loop = TrackingLoop(
            source,
            tracker,
            ring=writer,
            json_out=out if args.json else None,
            channel=channel,
            max_frames=args.max_frames,
            duration_s=args.duration,
            stop=stop,
            body_governor=body_governor(args.body, source.fps),
        )
        code = loop.run()
        log.info("tracked %d frames", loop.stats.frames)
        channel.emit(Bye())
        return code
    except (TrackingError, RingError) as e:
        print(f"tracking: {e}", file=sys.stderr)
        channel.emit(Error(message=str(e), fatal=True))
        return EXIT_USAGE
    except Exception as e:  # a bug: keep the traceback in the log, tell the parent in one line
        log.exception("tracking failed")
        channel.emit(Error(message=f"tracking failed: {type(e).__name__}: {e}", fatal=True))
        return 1
    finally:
        channel.close()
        try:
            out.close()
        except OSError:  # the parent is gone (broken pipe): nothing left to tell it
            pass
        if writer is not None:
            writer.close()
        if ring is not None:
            ring.close()
        if source is not None:
            source.close()
        if tracker is not None:
            tracker.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    import i18n

    # Status lines reach the user through the front-end: in its language ($AVATARCHAT_LANG).
    i18n.setup()
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
