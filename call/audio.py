"""Sound devices and the microphone/speaker specs a call is given (issue 14).

The networking process opens the devices (``peer.voice``); this module only *names* them, so a
front-end can offer a list and refuse a typo before anything starts. It lives in ``call/`` so the
TUI's device list, ``avatarchat call``'s checks and :meth:`call.CallConfig.check` read the same
list the same way.

Why sounddevice: it is the well-kept PortAudio binding the networking process uses too, so a name
listed here is a name it can open. It raises ``OSError`` at import when the PortAudio library is
missing (a server, CI, this project's test machine): that is "no sound device here", not an
error, and a call then runs silent (the networking process says so once, in its ``voice`` stats).

Spec grammar (shared with ``python -m peer --mic/--speaker``):

- microphone: ``default`` | a device name (case-insensitive substring) | ``file:PATH`` (WAV;
  ``file:PATH,once`` plays it once, then silence) | ``clip`` (the audio of the tracker's clip)
  | ``silence``
- speaker: ``default`` | a device name | ``file:PATH`` (a WAV written at 48 kHz mono 16-bit) |
  ``none``
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from i18n import _

log = logging.getLogger(__name__)

MIC_WORDS = ("default", "clip", "silence")
SPEAKER_WORDS = ("default", "none")
FILE_PREFIX = "file:"
#: ``file:PATH,once``: the WAV is played once, then silence (peer.voice.sources).
ONCE_SUFFIX = ",once"


@dataclass(frozen=True, slots=True)
class AudioDevices:
    """Input and output device names, or why there are none (``error``: one line)."""

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def any(self) -> bool:
        return bool(self.inputs or self.outputs)


def list_audio_devices() -> AudioDevices:
    """The sound devices PortAudio sees, by name. Never raises: a missing PortAudio library or a
    host without sound gives an empty list and the reason. Slow on some hosts (PortAudio probes
    every backend): a front-end calls it in a worker thread."""
    try:
        import sounddevice
    except OSError as e:  # PortAudio library not found
        return AudioDevices(error=_("no sound library here ({error})").format(error=e))
    except ImportError as e:
        return AudioDevices(error=_("no sound library here ({error})").format(error=e))
    try:
        devices = sounddevice.query_devices()
    except Exception as e:  # sounddevice.PortAudioError and whatever a backend raises
        return AudioDevices(error=_("cannot list sound devices: {error}").format(error=e))
    inputs: list[str] = []
    outputs: list[str] = []
    for dev in devices:
        name = str(dev.get("name", "")).strip()
        if not name:
            continue
        if int(dev.get("max_input_channels", 0)) > 0 and name not in inputs:
            inputs.append(name)
        if int(dev.get("max_output_channels", 0)) > 0 and name not in outputs:
            outputs.append(name)
    if not inputs and not outputs:
        return AudioDevices(error=_("no sound device here"))
    return AudioDevices(inputs, outputs)


def file_path(spec: str) -> str:
    """The path of a ``file:PATH[,once]`` spec ("" for any other spec)."""
    if not spec.startswith(FILE_PREFIX):
        return ""
    path = spec[len(FILE_PREFIX) :]
    return path[: -len(ONCE_SUFFIX)] if path.endswith(ONCE_SUFFIX) else path


def _match(name: str, names: list[str]) -> bool:
    low = name.lower()
    return any(low in n.lower() for n in names)


def check_mic(spec: str, devices: AudioDevices | None = None) -> str:
    """ "" or why ``spec`` cannot be a microphone. A device name is checked against ``devices``
    (listed here when None) only when this host has sound devices: with none, the call runs
    silent whatever was named, which is said, not refused."""
    if not spec.strip():
        return _("the microphone is empty: use default, a device name, file:PATH or silence")
    if spec in MIC_WORDS:
        return ""
    path = file_path(spec)
    if spec.startswith(FILE_PREFIX):
        if not path:
            return _("microphone {spec}: file: needs a path to a WAV file").format(spec=repr(spec))
        if not os.path.isfile(path):
            return _("no such WAV file for the microphone: {path}").format(path=path)
        if not os.access(path, os.R_OK):
            return _("cannot read the microphone's WAV file {path}").format(path=path)
        return ""
    devices = devices if devices is not None else list_audio_devices()
    if devices.any and not _match(spec, devices.inputs):
        return _("no microphone named {name} (there are: {names})").format(
            name=repr(spec), names=", ".join(devices.inputs) or "-"
        )
    return ""


def check_speaker(spec: str, devices: AudioDevices | None = None) -> str:
    """ "" or why ``spec`` cannot be a speaker (a ``file:`` path's folder must exist)."""
    if not spec.strip():
        return _("the speaker is empty: use default, a device name, file:PATH or none")
    if spec in SPEAKER_WORDS:
        return ""
    if spec.startswith(FILE_PREFIX):
        path = file_path(spec)
        if not path:
            return _("speaker {spec}: file: needs a path to write a WAV file to").format(
                spec=repr(spec)
            )
        folder = Path(path).expanduser().resolve().parent
        if not folder.is_dir():
            return _("no folder {folder} to write the speaker's WAV file in").format(
                folder=str(folder)
            )
        return ""
    devices = devices if devices is not None else list_audio_devices()
    if devices.any and not _match(spec, devices.outputs):
        return _("no speaker named {name} (there are: {names})").format(
            name=repr(spec), names=", ".join(devices.outputs) or "-"
        )
    return ""
