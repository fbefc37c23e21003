"""``python -m render_window --avatar ID|PATH --screenshot OUT.png``: one posed frame, then exit.

For people checking their model ("does my VRM load, does it blink?") and for tests: the same
renderer selection and fallback as the window, no rings, no idle life (the frame shows exactly
the pose asked for). Without a display a private Xvfb is started for the one frame.
"""

from __future__ import annotations

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


class ShotError(ValueError):
    """Bad --pose/--emotion, or the avatar cannot be drawn at all."""


def parse_pose(text: str | None, emotion: str | None) -> dict[str, float]:
    """--pose JSON (parameter name -> number) and --emotion NAME[:WEIGHT] as one overlay."""
    from avatars.params import PARAM_NAMES

    known = set(PARAM_NAMES) | {"tongueOut"}
    out: dict[str, float] = {}
    if text:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ShotError(f"--pose is not JSON: {e}") from e
        if not isinstance(doc, dict):
            raise ShotError("--pose must be a JSON object of parameter names to numbers")
        for k, v in doc.items():
            if k not in known:
                raise ShotError(f"--pose: unknown parameter {k!r}")
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise ShotError(f"--pose: {k} must be a finite number")
            out[k] = float(v)
    if emotion:
        name, _, weight = emotion.partition(":")
        if name not in EMOTION_PARAMS:
            raise ShotError(f"--emotion: {name!r} is not one of {', '.join(EMOTION_PARAMS)}")
        try:
            w = float(weight) if weight else 1.0
        except ValueError as e:
            raise ShotError(f"--emotion: weight {weight!r} is not a number") from e
        out[EMOTION_PARAMS[name]] = min(1.0, max(0.0, w))
    return out


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
