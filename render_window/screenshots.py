"""``screenshot`` commands waiting for their frame: a request can wait for a remote frame to be
shown settled (``min_seq``), take a burst (``count`` shots ``every`` k frames), and is written
to PNG off the render thread. Kept apart from the window's loop, which only asks which requests
this frame answers and hands over the pixels read back before the flip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocol.channel import ChildChannel
from protocol.events import Error, ScreenshotSaved

from .capture import save_png_async
from .motion import seq_after


class ScreenshotQueue:
    """The window's pending screenshot requests, and where their files go."""

    def __init__(self, channel: ChildChannel, screenshot_dir: Path | None) -> None:
        self.channel = channel
        #: Relative paths (and unnamed shots) go here; None: the working directory.
        self.screenshot_dir = screenshot_dir
        self._pending: list[dict[str, Any]] = []

    def add(self, fields: dict[str, Any]) -> None:
        """A ``screenshot`` command's fields: path, min_seq?, settled?, count?, every?, tag?."""
        self._pending.append(fields)

    def due(self, sample: Any) -> list[dict[str, Any]]:
        """The requests this frame (showing ``sample``) answers; a burst's next shot waits."""
        due, wait = [], []
        for shot in self._pending:
            if shot.get("_skip", 0) > 0:
                shot["_skip"] -= 1
                wait.append(shot)
                continue
            min_seq = shot.get("min_seq")
            if min_seq is None or (
                sample.shown_seq >= 0
                and not seq_after(int(min_seq), sample.shown_seq)
                and (sample.settled or not shot.get("settled", True))
            ):
                due.append(shot)
            else:
                wait.append(shot)
        self._pending = wait
        for shot in due:
            # A burst: {"count": N, "every": k} takes N screenshots k frames apart.
            left = int(shot.get("count", 1)) - 1
            if left > 0:
                nxt = dict(shot, count=left, _skip=max(0, int(shot.get("every", 1)) - 1))
                nxt["_index"] = shot.get("_index", 0) + 1
                nxt.pop("min_seq", None)
                self._pending.append(nxt)
        return due

    def save(self, shot: dict[str, Any], pixels: Any, sample: Any, present_ns: int) -> None:
        """Write ``pixels`` (this frame, read back before the flip) for ``shot`` off the render
        thread; the ``screenshot`` event (or an ``error``) follows when the file is written."""
        path = Path(str(shot.get("path") or ""))
        if "_index" in shot or int(shot.get("count", 1)) > 1:
            path = path.with_name(f"{path.stem}-{shot.get('_index', 0):03d}{path.suffix}")
        if not str(path) or str(path) == ".":
            base = self.screenshot_dir or Path(".")
            path = base / f"frame-{present_ns}.png"
        elif not path.is_absolute() and self.screenshot_dir is not None:
            path = self.screenshot_dir / path
        fields = {
            "seq": sample.shown_seq,
            "present_ns": present_ns,
            "idle_weight": round(sample.idle_weight, 4),
            "tag": shot.get("tag"),
            "index": shot.get("_index", 0),
        }

        def done(p: Path, error: str | None) -> None:
            if error:
                self.channel.emit(Error(message=error))
            else:
                self.channel.emit(ScreenshotSaved(path=str(p), **fields))

        save_png_async(pixels, path, done)
