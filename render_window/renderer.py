"""The renderer plug-in interface and its discovery.

A renderer turns an avatar pack plus named parameters into pixels inside a viewport of the
window's GL context. The 2D layered renderer is the first plug-in and the fallback; a 3D
(glTF/VRM) or neural renderer registers itself under the ``avatarchat.renderers`` entry-point
group and is picked automatically when it says it is available (GPU, model weights) and can
render the pack; otherwise the window falls back down the list.

Lifecycle: ``cls.available()`` (cheap, no GL) -> ``cls()`` -> ``can_render(pack)`` ->
``load(pack, variant)`` (GL context current; raise :class:`RendererError` on failure) ->
``set_viewport`` / ``draw`` per frame -> ``close()``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, ClassVar

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "avatarchat.renderers"
#: The built-in fallback, used even when the package's entry points are not installed.
FALLBACK = "layered2d"


class RendererError(Exception):
    """A renderer cannot load or draw a pack (the window falls back or reports it)."""


class Renderer(ABC):
    """One avatar drawn into one viewport. Subclasses set ``name`` and implement the methods."""

    #: Entry-point name; also what ``--renderer`` and logs call it.
    name: ClassVar[str] = ""
    #: Higher is preferred when several renderers can draw a pack (a 3D or neural renderer
    #: would outrank the 2D one for packs it supports).
    priority: ClassVar[int] = 0

    def __init__(self, batch: Any = None, order: int = 0) -> None:
        """``batch``: the window's pyglet Batch to join (None: the renderer draws itself in
        :meth:`draw`); ``order``: its draw order among the window's groups."""
        self.batch = batch
        self.order = order

    @classmethod
    def available(cls) -> bool:
        """Whether this renderer can run here at all (GL version, GPU, weights). No GL calls."""
        return True

    def can_render(self, pack: Any) -> bool:
        """Whether this renderer understands ``pack`` (e.g. a 2D layered pack vs. a VRM)."""
        return True

    @abstractmethod
    def load(self, pack: Any, variant: str | None = None) -> None:
        """Prepare GPU resources for ``pack``; replaces any previously loaded pack."""

    @abstractmethod
    def set_viewport(self, x: int, y: int, width: int, height: int) -> None:
        """Window-pixel rectangle (origin bottom-left) the avatar is fitted into."""

    @abstractmethod
    def draw(self, params: Mapping[str, float], t: float) -> None:
        """Update the avatar to ``params`` at monotonic time ``t`` (seconds).

        Renderers that draw through a pyglet batch update their state here and are drawn by
        the window's ``batch.draw()``; immediate-mode renderers draw here directly.
        """

    @abstractmethod
    def close(self) -> None:
        """Release GPU resources."""


def discover() -> dict[str, type[Renderer]]:
    """Renderer classes registered under the entry-point group, plus the built-in fallback."""
    found: dict[str, type[Renderer]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a broken third-party plug-in must not take the window down
            log.warning("renderer plug-in %r failed to import: %s", ep.name, e)
            continue
        if isinstance(cls, type) and issubclass(cls, Renderer):
            found[ep.name] = cls
        else:
            log.warning("renderer plug-in %r is not a Renderer subclass; ignored", ep.name)
    if FALLBACK not in found:
        from .layered import Layered2DRenderer

        found[FALLBACK] = Layered2DRenderer
    return found


def candidates(preferred: str | None = None) -> list[type[Renderer]]:
    """Available renderers in the order to try: ``preferred`` first, then by priority, with the
    fallback last."""
    found = discover()
    order = sorted(
        (c for n, c in found.items() if n != FALLBACK),
        key=lambda c: -c.priority,
    )
    if preferred and preferred in found:
        order = [found[preferred]] + [c for c in order if c is not found[preferred]]
    elif preferred:
        log.warning("renderer %r is not installed; using the default order", preferred)
    order.append(found[FALLBACK])
    seen: list[type[Renderer]] = []
    for cls in order:
        if cls not in seen and _available(cls):
            seen.append(cls)
    return seen


def _available(cls: type[Renderer]) -> bool:
    try:
        return bool(cls.available())
    except Exception as e:
        log.warning("renderer %r availability check failed: %s", cls.name, e)
        return False


def load_renderer(
    pack: Any,
    variant: str | None = None,
    preferred: str | None = None,
    *,
    batch: Any = None,
    order: int = 0,
) -> Renderer:
    """The first renderer that can draw ``pack``, loaded; falls back down the candidate list."""
    errors: list[str] = []
    for cls in candidates(preferred):
        renderer = cls(batch, order)
        try:
            if not renderer.can_render(pack):
                continue
            renderer.load(pack, variant)
        except RendererError as e:
            errors.append(f"{cls.name}: {e}")
            log.warning("renderer %s cannot draw %s: %s", cls.name, getattr(pack, "id", pack), e)
            renderer.close()
            continue
        return renderer
    raise RendererError("no renderer can draw this avatar (" + "; ".join(errors) + ")")
