"""User settings, persisted as TOML in the user's config directory.

Why TOML: people edit this file by hand (a TURN secret, a relay URL), and the project already
reads TOML for avatar packs. The file is rewritten atomically (temp file + rename) so a crash or
a full disk never leaves a half-written settings file that would stop the app from starting.
A missing, unreadable or invalid file gives the defaults (with the problem logged), never an
exception: settings must not be the reason a call cannot start.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from i18n import SETTING_CHOICES

log = logging.getLogger(__name__)

APP_NAME = "avatarchat"
#: Tests (and people with several identities) point the app at another directory with this.
CONFIG_DIR_ENV = "AVATARCHAT_CONFIG_DIR"
SETTINGS_FILE = "settings.toml"
#: Same cap as the ``hello`` ctl message, so what we save is always sendable.
MAX_NAME_CHARS = 64


def config_dir() -> Path:
    """The directory holding settings.toml (``$AVATARCHAT_CONFIG_DIR`` wins)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME))


def state_dir() -> Path:
    """Where logs go: next to the settings when overridden (tests), else the user state dir."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override) / "state"
    return Path(platformdirs.user_state_dir(APP_NAME))


@dataclass(slots=True)
class Settings:
    """Everything the user can change on the settings screen."""

    display_name: str = ""
    #: Relay WebSocket URL; blank = start a local relay for each created room.
    relay: str = ""
    #: A room created without a relay can be joined from the LAN (the local relay listens on
    #: every address). Off: this machine only, so no other machine can reach it by accident.
    share_on_lan: bool = False
    #: TURN server URL (``turn:host:3478?transport=udp``); blank = STUN/host candidates only.
    turn_url: str = ""
    turn_username: str = ""
    turn_credential: str = ""
    #: Also send my tracking as VMC (OSC over UDP) to this HOST:PORT - VSeeFace, Warudo, ... -
    #: during calls; blank = off. Plain UDP, unencrypted: outside the call's privacy model.
    vmc_to: str = ""
    #: Tracking smoothing, 0 (raw) .. 1 (very smooth); passed to the tracker.
    smoothing: float = 0.5
    #: The camera delivers a mirrored (selfie) image: the tracker swaps left and right so the
    #: avatar winks the eye the person winks (tracking "mirror" command).
    mirror: bool = False  # raw V4L2 frames are not mirrored (the tracker's default too)
    default_avatar: str = ""
    #: Last camera/clip picked ("" = first available).
    default_source: str = ""
    #: Interface language: "auto" (the locale), "en" or "ko" ($AVATARCHAT_LANG wins for a run).
    language: str = "auto"
    #: Track hands and upper body beside the face (issue 17) when the computer can afford it
    #: (the tracker decides: 2+ cores); off = face only, on every machine.
    body: bool = True
    #: Voice (issue 14): calls carry our voice and play the peer's. Off = text and avatar only
    #: (the same as ``avatarchat call --no-voice``).
    voice: bool = True
    #: Echo cancellation (with noise suppression and gain control) on the microphone: on, so
    #: speakers instead of headphones do not send the peer their own voice back.
    echo_cancel: bool = True
    #: Microphone and speaker: "default" or a device name as sounddevice lists it (call.audio;
    #: a ``file:`` spec typed into the file works too, for tests).
    mic: str = "default"
    speaker: str = "default"

    def validated(self) -> Settings:
        """A copy with every field coerced into range (hand-edited files can hold anything)."""
        out = Settings()
        for f in fields(Settings):
            value = getattr(self, f.name)
            default = getattr(out, f.name)
            if isinstance(default, bool):
                value = value if isinstance(value, bool) else default
            elif isinstance(default, float):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    value = min(1.0, max(0.0, float(value)))
                else:
                    value = default
            elif isinstance(default, str):
                value = value.strip() if isinstance(value, str) else default
            setattr(out, f.name, value)
        out.display_name = out.display_name[:MAX_NAME_CHARS]
        if out.language not in SETTING_CHOICES:
            out.language = "auto"
        out.mic = out.mic or "default"
        out.speaker = out.speaker or "default"
        return out


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; defaults for anything missing or broken (logged, not raised)."""
    path = path or settings_path()
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except FileNotFoundError:
        return Settings()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        log.warning("ignoring unreadable settings file %s: %s", path, e)
        return Settings()
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in data.items() if k in known}
    return Settings(**values).validated()


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings atomically; returns the path written."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = asdict(settings.validated())
    with open(tmp, "wb") as f:
        tomli_w.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    # The file may hold a TURN secret: readable by the user only.
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
