"""Wire formats and the shared-memory ring: the contract between avatarchat's processes.

No sockets here (see ARCHITECTURE.md): only codecs, validation, limits and the shm ring.
"""

from .blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES
from .errors import (
    DecodeError,
    EncodeError,
    FrameTooLarge,
    ProtocolError,
    RingError,
    ValidationError,
)
from .frame import (
    FRAME_VERSION,
    MAX_FRAME_BYTES,
    TARGET_FRAME_BYTES,
    Emotion,
    FrameFlags,
    ParamFrame,
)
from .ring import RingReader, RingRecord, RingWriter, ShmRing

__all__ = [
    "BLENDSHAPE_INDEX",
    "BLENDSHAPE_NAMES",
    "FRAME_VERSION",
    "MAX_FRAME_BYTES",
    "NUM_BLENDSHAPES",
    "TARGET_FRAME_BYTES",
    "DecodeError",
    "Emotion",
    "EncodeError",
    "FrameFlags",
    "FrameTooLarge",
    "ParamFrame",
    "ProtocolError",
    "RingError",
    "RingReader",
    "RingRecord",
    "RingWriter",
    "ShmRing",
    "ValidationError",
]
