"""PNG checks on raw bytes: the signature/size test (cheap) and a full decode (thorough).

A pack's images come from strangers (peer transfer), so the validator looks at their bytes
itself instead of trusting file extensions or headers.
"""

from __future__ import annotations

import io
import re
import struct

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, or None when the bytes are not a PNG (by signature)."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def png_decode_error(data: bytes) -> str | None:
    """Why the PNG cannot be decoded (truncated, bad CRC, ...), or None when it decodes.

    Decoding every image once at validation means a renderer never meets a corrupt texture
    mid-call; images are at most 2048x2048, so this is cheap and bomb-safe.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:  # untrusted bytes: any decoder failure means unreadable
        # Pillow names the in-memory file object (with its address) in some messages; drop it
        # so the message is stable and about the image, not about how it was read.
        text = re.sub(r"\s*<[^>]*>", "", str(exc)).strip()
        return text or type(exc).__name__
    return None
