"""Voice for the networking process (issue 14): an Opus track on the call's RTCPeerConnection.

- :mod:`.sources`: microphone (sounddevice), the tracker's clip, a WAV file, silence.
- :mod:`.sinks`: speaker, a WAV file, none.
- :mod:`.track`: the aiortc track we send.
- :mod:`.playout`: our adaptive jitter buffer in place of aiortc's fixed one, Opus decoding,
  loss concealment (the docstring says exactly what is changed in aiortc and why).
- :mod:`.stats`: level meter and voice activity.
- :mod:`.engine`: :class:`Voice`, the capture and playout loops, mute/deafen, the stats dict.

SDP rules (:func:`peer.connection.check_sdp`): ``m=application`` always, ``m=audio`` only when
voice is on (or, voice off, as the inactive mirror an answer must carry for an offered audio
section), never ``m=video``.
"""

from .engine import LinkVoice, Voice

__all__ = ["LinkVoice", "Voice"]
