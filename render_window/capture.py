"""Read the frame about to be presented back from GL and write it as a PNG.

The read happens after drawing and before the flip (the back buffer is undefined after a swap),
so the image is exactly the frame that the flip presents. PNG encoding runs on a worker thread
so a screenshot does not stall the render loop.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pyglet import gl

log = logging.getLogger(__name__)


def read_pixels(width: int, height: int) -> npt.NDArray[np.uint8]:
    """The current draw buffer as (height, width, 3) RGB, row 0 = top."""
    buf = np.empty((height, width, 4), dtype=np.uint8)
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    gl.glReadPixels(
        0,
        0,
        width,
        height,
        gl.GL_RGBA,
        gl.GL_UNSIGNED_BYTE,
        buf.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)),
    )
    return np.ascontiguousarray(buf[::-1, :, :3])


def save_png_async(
    pixels: npt.NDArray[np.uint8], path: Path, done: Callable[[Path, str | None], None]
) -> None:
    """Encode ``pixels`` to ``path`` on a thread; ``done(path, error)`` is called afterwards."""

    def work() -> None:
        from PIL import Image

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            Image.fromarray(pixels, "RGB").save(tmp, format="PNG", compress_level=1)
            tmp.replace(path)  # readers never see a half-written file
        except OSError as e:
            done(path, f"cannot write screenshot {path}: {e.strerror or e}")
            return
        done(path, None)

    threading.Thread(target=work, name="screenshot", daemon=True).start()
