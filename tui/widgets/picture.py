"""A widget that shows a PIL image in half-block characters, scaled to the widget's size."""

from __future__ import annotations

from PIL import Image
from rich.console import RenderableType
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from i18n import N_, _
from tui.halfblock import HalfBlocks, image_pixels, qr_pixels


class Picture(Widget):
    """Shows :attr:`image` fitted into the widget (aspect kept), or a placeholder text."""

    DEFAULT_CSS = """
    Picture { width: 24; height: 12; }
    """

    image: reactive[Image.Image | None] = reactive(None, layout=False)
    #: Shown instead of a picture: an English message id, translated when drawn.
    placeholder: reactive[str] = reactive(N_("no preview"))

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cache_key: tuple[int, int, int] | None = None
        self._cache: HalfBlocks | None = None

    def render(self) -> RenderableType:
        image = self.image
        width, height = self.content_size.width, self.content_size.height
        if image is None or width < 2 or height < 1:
            return Text(_(self.placeholder), style="dim", justify="center")
        key = (id(image), width, height)
        if key != self._cache_key or self._cache is None:
            # Resizing is a few ms for a 256 px preview at terminal sizes: fine on the loop.
            self._cache = HalfBlocks(image_pixels(image, width, height, background=(0, 0, 0)))
            self._cache_key = key
        return self._cache


class QrCode(Widget):
    """A QR code of :attr:`data`, black on white, one module per cell column."""

    DEFAULT_CSS = """
    QrCode { width: auto; height: auto; }
    """

    data: reactive[str] = reactive("", layout=True)

    def __init__(self, data: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cached: tuple[str, HalfBlocks | None] | None = None
        self.set_reactive(QrCode.data, data)

    def blocks(self) -> HalfBlocks | None:
        """The drawn code (None without data); its width and height are in cells."""
        return self._blocks()

    def _blocks(self) -> HalfBlocks | None:
        # Layout asks for width and height, then render: build the matrix once per data.
        if self._cached is None or self._cached[0] != self.data:
            blocks = HalfBlocks(qr_pixels(self.data, border=1)) if self.data else None
            self._cached = (self.data, blocks)
        return self._cached[1]

    def render(self) -> RenderableType:
        blocks = self._blocks()
        return blocks if blocks is not None else Text("")

    def get_content_width(self, container: Size, viewport: Size) -> int:
        blocks = self._blocks()
        return blocks.width if blocks else 1

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        blocks = self._blocks()
        return blocks.height if blocks else 1
