"""Wire formats and the shared-memory ring: the contract between avatarchat's processes.

No sockets here (see ARCHITECTURE.md): only codecs, validation, limits and the shm ring.
"""

from .blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES, NUM_BLENDSHAPES
from .body import ArmPose, BodyPose, HandShape, Side
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
    TARGET_BODY_FRAME_BYTES,
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
    "TARGET_BODY_FRAME_BYTES",
    "TARGET_FRAME_BYTES",
    "ArmPose",
    "BodyPose",
    "DecodeError",
    "Emotion",
    "EncodeError",
    "FrameFlags",
    "FrameTooLarge",
    "HandShape",
    "ParamFrame",
    "ProtocolError",
    "RingError",
    "RingReader",
    "RingRecord",
    "RingWriter",
    "ShmRing",
    "Side",
    "ValidationError",
]
