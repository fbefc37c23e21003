"""Where tracking keeps its per-user state, and its tunable settings.

Files live in the XDG config directory (``platformdirs.user_config_dir("avatarchat")``), or in
``$AVATARCHAT_CONFIG_DIR`` when set: tests and parallel headless runs point that at a temporary
directory so they never read or write the user's real calibration.

``tracking.toml`` (optional, hand-edited or written by the TUI's settings) tunes smoothing::

    [smoothing]
    enabled = true
    [smoothing.eyes]
    min_cutoff = 3.0   # Hz: jitter removal at rest (lower = smoother, laggier)
    beta = 1.5         # speed coefficient: how fast the cutoff opens during fast motion
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

CONFIG_DIR_ENV = "AVATARCHAT_CONFIG_DIR"
APP_NAME = "avatarchat"
SETTINGS_FILE = "tracking.toml"
CALIBRATION_FILE = "calibration.toml"


def config_dir() -> Path:
    """The directory for avatarchat's per-user config (not created here: reading must not
    leave files behind)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME))


def calibration_path() -> Path:
    return config_dir() / CALIBRATION_FILE


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """The parsed ``tracking.toml``, or ``{}`` when it is absent or unreadable (logged): a bad
    settings file must not stop a call, the defaults are good."""
    path = path or config_dir() / SETTINGS_FILE
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        log.warning("ignoring %s: %s", path, e)
        return {}
