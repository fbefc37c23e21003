#!/usr/bin/env python3
"""CPU time per frame of the 3D renderer as the window draws it: a large view and an inset.

``bench_render.py`` measures the whole window in wall-clock terms (fps, frame p99), which on a
shared 2-core machine mostly measures the neighbours. This measures the renderer's own work in
*thread CPU time* (llvmpipe rasterises on the calling thread, see render_window/__main__.py):
per frame, posing both views (``draw``) and drawing them up to ``glFinish`` (``gl``), with
the demo's motion (face, arms) at 60 fps and the inset redrawn at 30 Hz as in the window. Run it
back to back in two checkouts for an A/B comparison that the machine's load disturbs little.

    python scripts/bench_gl3d.py --avatar nova --frames 300 --json gl3d.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

#: The inset's place at 1280x720 (render_window/app.py: 0.3 of the shorter side, a margin).
INSET = (1044, 20, 216, 216)


def run(avatar: str, frames: int, width: int, height: int, inset: bool) -> dict[str, float]:
    os.environ.setdefault("LP_NUM_THREADS", "0")  # as the window does on a small machine
    import pyglet

    pyglet.options["shadow_window"] = False
    pyglet.options["debug_gl"] = False
    from pyglet import gl

    from avatars.avatar3d import load_avatar
    from render_window.demo import demo_frame
    from render_window.gl3d import Gltf3DRenderer
    from render_window.params import frame_to_params

    config = gl.Config(  # type: ignore[abstract]  # pyglet picks the platform class
        double_buffer=True, depth_size=24, major_version=3, minor_version=3
    )
    window = pyglet.window.Window(width, height, config=config, visible=True)
    batch = pyglet.graphics.Batch()
    Gltf3DRenderer.warmup_limit_ms = math.inf
    views = [Gltf3DRenderer(batch=batch, order=1)]
    views[0].load(load_avatar(avatar))
    views[0].set_viewport(0, 0, width, height)
    if inset:
        views.append(Gltf3DRenderer(batch=batch, order=3))
        views[1].load(load_avatar(avatar))
        views[1].set_viewport(*INSET)
    params = [frame_to_params(demo_frame(i, i / 60.0, 0)) for i in range(frames)]
    draw_ms, gl_ms = [], []
    for i in range(-30, frames):  # 30 unmeasured frames first
        p, t = params[i % frames], (i % frames) / 60.0
        t0 = time.thread_time()
        for v in views:
            v.draw(p, t)
        t1 = time.thread_time()
        window.clear()
        batch.draw()
        gl.glFinish()
        t2 = time.thread_time()
        window.flip()
        if i >= 0:
            draw_ms.append((t1 - t0) * 1000)
            gl_ms.append((t2 - t1) * 1000)
    window.close()
    total = np.array(draw_ms) + np.array(gl_ms)
    return {
        "cpu_ms_p50": round(float(np.median(total)), 2),
        "cpu_ms_mean": round(float(total.mean()), 2),
        "cpu_ms_p90": round(float(np.percentile(total, 90)), 2),
        "draw_ms_p50": round(float(np.median(draw_ms)), 2),
        "gl_ms_p50": round(float(np.median(gl_ms)), 2),
        "frames": frames,
        "load1": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", default="nova", help="3D id (nova) or a .vrm/.glb path")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--no-self-view", action="store_true", help="the large view only")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    xvfb = None
    if not os.environ.get("DISPLAY"):
        from render_window.headless import start_xvfb

        xvfb, os.environ["DISPLAY"] = start_xvfb(args.width, args.height)
    try:
        out = run(args.avatar, args.frames, args.width, args.height, not args.no_self_view)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
