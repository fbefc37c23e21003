"""``python -m render_window --avatar ID|PATH --screenshot OUT.png``: one posed frame, then exit.

For people checking their model ("does my VRM load, does it blink?") and for tests: the same
renderer selection and fallback as the window, no rings, no idle life (the frame shows exactly
the pose asked for). Without a display a private Xvfb is started for the one frame.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: --emotion names -> parameter.
EMOTION_PARAMS = {
    "happy": "emotionHappy",
    "sad": "emotionSad",
    "angry": "emotionAngry",
    "surprised": "emotionSurprised",
}
BACKGROUND = (0.16, 0.17, 0.2, 1.0)

#: Head rotations (radians): a quarter turn either way is as far as a neck goes. A larger value
#: is almost always degrees typed by mistake (15 would show the back of the head).
HEAD_TURN = math.pi / 2
#: Arm segment angles (radians, 0 = hanging): one full turn either way covers every direction
#: from either wrap (render_window.params.segment_angle); beyond that it is degrees again.
ARM_TURN = 2.0 * math.pi
#: Signed head, gaze and breath values in -1..1 (avatars/FORMAT.md).
SIGNED_HEAD = ("headX", "headY", "headZ", "gazeX", "gazeY", "breath")


#: The unit of the clamped kind (blendshapes, emotions, curls, shrugs).
WEIGHT = "weight"


class ShotError(ValueError):
    """Bad --pose/--emotion, or the avatar cannot be drawn at all."""


@functools.cache
def pose_ranges() -> dict[str, tuple[float, float, str]]:
    """Every name --pose accepts -> (low, high, unit). Weights (0..1) are clamped, as the wire
    clamps them (a byte); every other kind out of range is refused, naming the range."""
    from avatars.params import PARAM_NAMES, SIGNED_BODY_PARAMS

    out: dict[str, tuple[float, float, str]] = {}
    for name in (*PARAM_NAMES, "tongueOut"):
        if name in ("headPitch", "headYaw", "headRoll", "torsoRoll"):
            out[name] = (-HEAD_TURN, HEAD_TURN, "radians")
        elif name in SIGNED_BODY_PARAMS and "Angle" in name:
            out[name] = (-ARM_TURN, ARM_TURN, "radians")
        elif name in SIGNED_BODY_PARAMS or name in SIGNED_HEAD:
            out[name] = (-1.0, 1.0, "")
        else:
            out[name] = (0.0, 1.0, WEIGHT)
    return out


def _number(key: str, value: Any) -> float:
    """A JSON value as a finite float, or a ShotError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShotError(f"--pose: {key} must be a number, got {json.dumps(value)[:40]}")
    try:
        f = float(value)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ShotError(f"--pose: {key} must be a finite number, got {str(value)[:20]}")
    return f


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ShotError(f"--pose: {k!r} is given twice")
        out[k] = v
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def parse_pose(text: str | None, emotion: str | None) -> dict[str, float]:
    """--pose JSON (parameter name -> number) and --emotion NAME[:WEIGHT] as one overlay.

    Ranges are avatars/FORMAT.md's ("Parameters"): weights (blendshapes, mouthOpen, smile,
    emotions, curls, spread, shrugs) are clamped to 0..1 with a warning, as a value of 1.2 means
    "fully"; head and torso rotations must lie within +-pi/2 radians, arm angles within +-2 pi,
    the other signed values within -1..1, else a :class:`ShotError` names the key and its range.
    """
    ranges = pose_ranges()
    out: dict[str, float] = {}
    if text is not None:
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicates)
        except RecursionError:
            raise ShotError("--pose is not JSON: nested too deeply") from None
        except ShotError:
            raise
        except ValueError as e:  # JSONDecodeError, or an integer of thousands of digits
            raise ShotError(f"--pose is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise ShotError(
                '--pose must be a JSON object of parameter names to numbers, e.g. {"headYaw": 0.3}'
            )
        for k, v in doc.items():
            if k not in ranges:
                near = difflib.get_close_matches(k, ranges, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ShotError(f"--pose: unknown parameter {k!r}{hint}")
            out[k] = _in_range(f"--pose: {k}", _number(k, v), *ranges[k])
    if emotion is not None:
        name, _, weight = emotion.partition(":")
        name = name.strip().lower()
        if name not in EMOTION_PARAMS:
            raise ShotError(f"--emotion: {name!r} is not one of {', '.join(EMOTION_PARAMS)}")
        try:
            w = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ShotError(f"--emotion: weight {weight!r} is not a number") from None
        if not math.isfinite(w):
            raise ShotError(f"--emotion: weight must be a finite number, got {weight}")
        out[EMOTION_PARAMS[name]] = _in_range("--emotion: weight", w, 0.0, 1.0, WEIGHT)
    return out


def _in_range(label: str, value: float, lo: float, hi: float, unit: str) -> float:
    """``value`` if within lo..hi; else clamped (a weight) or a ShotError naming the range."""
    if lo <= value <= hi:
        return value
    if unit == WEIGHT:
        clamped = min(hi, max(lo, value))
        log.warning("%s %s clamped to %s (weights are 0..1)", label, _fmt(value), _fmt(clamped))
        return clamped
    extra = f" {unit} (90 degrees is {math.pi / 2:.4g})" if unit == "radians" else ""
    raise ShotError(f"{label} {_fmt(value)} is outside {_fmt(lo)}..{_fmt(hi)}{extra}")


def screenshot(
    ref: str,
    out: Path,
    pose: dict[str, float],
    *,
    width: int = 1280,
    height: int = 720,
    renderer: str | None = None,
    t: float = 0.0,
    variant: str | None = None,
) -> str:
    """Render one frame of ``ref`` posed by ``pose`` at time ``t`` into ``out`` (PNG); returns
    the renderer's name. Raises :class:`ShotError`."""
    xvfb = None
    if not os.environ.get("DISPLAY"):
        from .headless import start_xvfb

        xvfb, display = start_xvfb(width, height)
        os.environ["DISPLAY"] = display
    try:
        return _shoot(ref, out, pose, width, height, renderer, t, variant)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def _shoot(
    ref: str,
    out: Path,
    pose: dict[str, float],
    width: int,
    height: int,
    preferred: str | None,
    t: float,
    variant: str | None,
) -> str:
    import pyglet

    pyglet.options["shadow_window"] = False
    from PIL import Image
    from pyglet import gl

    from avatars.avatar3d import load_avatar
    from avatars.errors import PackError

    from .capture import read_pixels
    from .gl3d import Gltf3DRenderer
    from .params import neutral_vector, vector_to_dict
    from .renderer import RendererError, load_renderer

    Gltf3DRenderer.warmup_limit_ms = math.inf  # one frame: no frame budget to refuse a model by
    try:
        pack = load_avatar(ref, variant)
    except PackError as e:
        raise ShotError(str(e)) from e
    config = gl.Config(  # type: ignore[abstract]  # pyglet picks the platform class
        double_buffer=True, depth_size=24, major_version=3, minor_version=3
    )
    window = pyglet.window.Window(width, height, visible=True, config=config, caption="avatarchat")
    try:
        batch = pyglet.graphics.Batch()
        try:
            r = load_renderer(pack, getattr(pack, "default_variant", None), preferred, batch=batch)
        except RendererError as e:
            raise ShotError(str(e)) from e
        w, h = window.get_framebuffer_size()
        r.set_viewport(0, 0, w, h)
        params: dict[str, Any] = vector_to_dict(neutral_vector())
        params.update(pose)
        r.draw(params, t)
        gl.glClearColor(*BACKGROUND)
        window.clear()
        batch.draw()
        pixels = read_pixels(w, h)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(out)
        name = r.name
        r.close()
        return name
    finally:
        window.close()
