"""What one call is asked to be, and the command lines of its children.

A front-end (the TUI's home screen, ``avatarchat call``, ``avatarchat demo``, a benchmark)
fills one :class:`CallConfig`; :class:`call.session.Call` turns it into three processes. The
argv builders live here so the one place that knows each child's flags is next to the fields
they come from.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from i18n import _
from protocol.signaling import ROOM_ENV, TURN_PASS_ENV
from protocol.vmc import parse_source_spec, parse_target

from .audio import check_mic, check_speaker, list_audio_devices
from .child import module_argv
from .errors import CallConfigError

#: Sources the tracker understands without a path (see ``python -m tracking --help``).
NAMED_SOURCES = ("sample", "synthetic")
#: The clip ``tracking --source sample`` plays (tracking.sources.SAMPLE_CLIP): ``--mic clip``
#: hands its path to the networking process, which reads the clip's audio track. Named by path,
#: not imported: call/ starts the tracker, it does not import it.
SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "tracking" / "samples" / "d10.mp4"


def _camera_device(spec: str) -> str:
    """The device a camera spec (``camera``, ``camera:N``, ``/dev/...``) opens; "" otherwise."""
    if spec == "camera":
        return "/dev/video0"
    if spec.startswith("camera:") and spec[7:].isdigit():
        return f"/dev/video{int(spec[7:])}"
    return spec if spec.startswith("/dev/") else ""


def _is_keyword_or_file(spec: str) -> bool:
    return spec in ("default", "clip", "silence", "none") or spec.startswith("file:")


def check_vmc_target(text: str) -> tuple[str, int]:
    """A VMC destination the user typed, as (host, port); CallConfigError (translated) if it is
    not HOST:PORT. Front-ends use it to validate the setting before saving it."""
    try:
        return parse_target(text)
    except ValueError as e:
        raise CallConfigError(
            _("VMC address {address} must look like HOST:PORT, e.g. 127.0.0.1:39539").format(
                address=repr(text.strip())
            )
        ) from e


def check_vmc_source(spec: str) -> None:
    """CallConfigError (translated) for a ``vmc:`` source spec with a bad port; other specs
    pass (they are checked elsewhere)."""
    try:
        parse_source_spec(spec)
    except ValueError as e:
        raise CallConfigError(
            _("VMC source {source} must look like vmc:PORT or vmc:HOST:PORT").format(
                source=repr(spec)
            )
        ) from e


@dataclass(slots=True)
class CallConfig:
    """Everything needed to run one call's processes."""

    room: str
    #: Relay WebSocket URL; "" = start an embedded relay on this machine for this call.
    relay: str = ""
    #: The embedded relay also listens on this machine's LAN address, so someone on the same
    #: network can join. Off by default: a relay reachable from other machines is a choice the
    #: user makes, not a side effect of creating a room (loopback only otherwise).
    lan: bool = False
    #: tracking --source SPEC: a clip path, ``sample``, ``synthetic`` or a camera index/path.
    source: str = "sample"
    name: str = ""
    avatar: str = "aria"
    #: Variant of our own avatar for the self-view ("" = the pack's default).
    variant: str = ""
    #: What the render window draws the peer with until the peer's hello names its avatar.
    peer_avatar: str = "aria"
    window: bool = False
    #: We made the room (a front-end shows the invite) rather than joined it.
    created: bool = False
    #: Someone gave us this code: join only if they are in the room. Nobody there is said at
    #: once (a ``no_room`` status) instead of silently opening an empty room; the front-end
    #: asks whether to wait anyway (:meth:`call.Call.open_room`).
    join_existing: bool = False
    #: Tracker settings replayed at every (re)start; None = the tracker's own default.
    mirror: bool | None = None
    smoothing: float | None = None
    #: Track hands and upper body beside the face (issue 17): True/False = ``--body on|off``,
    #: None = the tracker decides (on when the CPU allows it).
    body: bool | None = None
    stats_json: str | None = None
    #: Also send our tracking as VMC (OSC over UDP, unencrypted) to this HOST:PORT; "" = off.
    #: Outside the call's privacy model, so only ever the one address the user typed.
    vmc_to: str = ""
    ice_servers: list[str] = field(default_factory=list)
    turn_user: str | None = None
    turn_pass: str | None = None
    turn_only: bool = False
    #: Extra arguments for each child (tests and benchmarks use these).
    tracking_args: list[str] = field(default_factory=list)
    peer_args: list[str] = field(default_factory=list)
    render_args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    log_dir: str | None = None
    #: Seconds each child may take to say ``ready`` (MediaPipe start-up is the slow one).
    ready_timeout_s: float = 60.0
    #: Prefix command (e.g. ``["ip", "netns", "exec", "ns1"]``) for every child.
    wrap: list[str] = field(default_factory=list)
    #: Voice (issue 14): an Opus track beside the parameters; False = text and avatar only
    #: (the networking process offers no ``m=audio`` at all).
    voice: bool = True
    #: Microphone spec: ``default`` | a device name | ``file:PATH`` | ``clip`` | ``silence``
    #: (grammar: :mod:`call.audio`).
    mic: str = "default"
    #: Speaker spec: ``default`` | a device name | ``file:PATH`` (WAV written) | ``none``.
    speaker: str = "default"
    #: Echo cancellation (with noise suppression and gain control) on the microphone path.
    echo_cancel: bool = True
    #: Start with the microphone muted / the peer's voice not played (``Call.set_mute`` and
    #: ``Call.set_deafen`` change them during the call).
    muted: bool = False
    deafened: bool = False
    #: With ``mic="clip"`` the tracker shows the clip's frames and the networking process plays
    #: its audio: both place them on one CLOCK_MONOTONIC timeline starting here (set once, at
    #: the first command line, so restarted children rejoin the same timeline).
    clip_epoch_ns: int | None = None

    def check(self) -> None:
        """Refuse what cannot work before anything is started (CallConfigError: one line for
        the user, in their language)."""
        if not self.room:
            raise CallConfigError(_("no room code"))
        if self.relay:
            parts = urlsplit(self.relay)
            if parts.scheme not in ("ws", "wss") or not parts.hostname:
                raise CallConfigError(
                    _("relay URL {url} must look like ws://HOST:PORT or wss://HOST").format(
                        url=repr(self.relay)
                    )
                )
            try:
                parts.port  # noqa: B018 - raises ValueError on a bad port
            except ValueError as e:
                message = _("relay URL {url}: {error}").format(url=repr(self.relay), error=e)
                raise CallConfigError(message) from e
        src = self.source
        looks_like_path = "/" in src or src.endswith((".mp4", ".mov", ".mkv", ".webm", ".avi"))
        # A camera that is not there (unplugged since the last call, a typo) fails here, not
        # as a tracker that exits after the call has started.
        camera = _camera_device(src)
        if camera and not os.path.exists(camera):
            raise CallConfigError(_("no camera at {path}").format(path=camera))
        if looks_like_path and not camera and not os.path.exists(src):
            raise CallConfigError(_("no such clip: {path}").format(path=src))
        if self.vmc_to:
            check_vmc_target(self.vmc_to)
        check_vmc_source(src)
        if self.smoothing is not None and not 0.0 <= self.smoothing <= 1.0:
            raise CallConfigError(
                _("smoothing {value} is not in 0..1").format(value=self.smoothing)
            )
        if self.voice:
            self._check_voice()

    def _check_voice(self) -> None:
        """A WAV that is not there or a device name that is not on this host is refused here;
        no sound device at all is not: the call runs silent and the networking process says
        so once (its ``voice`` stats name why)."""
        if self.mic == "clip" and not self.clip_path():
            raise CallConfigError(
                _("--mic clip needs a clip as the source (sample or a file), not {source}").format(
                    source=repr(self.source)
                )
            )
        named = [s for s in (self.mic, self.speaker) if not _is_keyword_or_file(s)]
        devices = list_audio_devices() if named else None  # PortAudio only when a name needs it
        reason = check_mic(self.mic, devices) or check_speaker(self.speaker, devices)
        if reason:
            raise CallConfigError(reason)

    def clip_path(self) -> str:
        """The clip file the tracker plays ("" for a camera or the synthetic source)."""
        if self.source == "sample":
            return str(SAMPLE_CLIP)
        if self.source in NAMED_SOURCES or _camera_device(self.source) or self.source.isdigit():
            return ""
        return self.source

    # -- children's command lines ----------------------------------------------------------
    def _argv(self, module: str, *args: str) -> list[str]:
        return [*self.wrap, *module_argv(module, *args)]

    def clip_timeline(self) -> list[str]:
        """``--clip-epoch-ns`` for both children when the clip is camera and microphone."""
        if not (self.voice and self.mic == "clip"):
            return []
        if self.clip_epoch_ns is None:
            self.clip_epoch_ns = time.monotonic_ns()
        return ["--clip-epoch-ns", str(self.clip_epoch_ns)]

    def tracking_argv(self, local_ring: str) -> list[str]:
        body = [] if self.body is None else ["--body", "on" if self.body else "off"]
        return self._argv(
            "tracking",
            "--source",
            self.source,
            "--ring",
            local_ring,
            *body,
            *self.clip_timeline(),
            *self.tracking_args,
        )

    def vmc_argv(self, local_ring: str) -> list[str]:
        """The VMC sender (``peer.vmc_send``), reading the same local ring as the peer."""
        return self._argv("peer.vmc_send", "--ring", local_ring, "--to", self.vmc_to)

    def peer_argv(self, relay_url: str, local_ring: str, remote_ring: str) -> list[str]:
        return self._argv(
            "peer",
            "--relay",
            relay_url,
            # The room code goes through the environment (peer_env): it is a secret.
            "--local-ring",
            local_ring,
            "--remote-ring",
            remote_ring,
            "--avatar",
            self.avatar,
            *(["--name", self.name] if self.name else []),
            *[a for url in self.ice_servers for a in ("--ice-server", url)],
            *(["--turn-user", self.turn_user] if self.turn_user else []),
            *(["--turn-only"] if self.turn_only else []),
            *(["--stats-json", self.stats_json] if self.stats_json else []),
            *(["--join-existing"] if self.join_existing else []),
            *self.voice_args(),
            *self.peer_args,
        )

    def voice_args(self) -> list[str]:
        """The networking process's voice flags (its defaults are left out)."""
        if not self.voice:
            return ["--no-voice"]
        out: list[str] = []
        if self.mic != "default":
            out += ["--mic", self.mic]
            if self.mic == "clip":
                out += ["--clip", self.clip_path(), *self.clip_timeline()]
        if self.speaker != "default":
            out += ["--speaker", self.speaker]
        if not self.echo_cancel:
            out.append("--no-echo-cancel")
        if self.muted:
            out.append("--muted")
        if self.deafened:
            out.append("--deafened")
        return out

    def peer_env(self) -> dict[str, str]:
        """The networking process's environment: the room code and the TURN password travel
        here, not in argv, which every local user can read in ``/proc``."""
        env = dict(self.env if self.env is not None else os.environ)
        env[ROOM_ENV] = self.room
        if self.turn_pass:
            env[TURN_PASS_ENV] = self.turn_pass
        return env

    def render_argv(self, local_ring: str, remote_ring: str) -> list[str]:
        return self._argv(
            "render_window",
            "--remote-ring",
            remote_ring,
            "--local-ring",
            local_ring,
            # The peer's avatar is unknown until its hello (then ``peer_avatar`` switches it);
            # ours is the self-view.
            "--avatar",
            self.peer_avatar,
            "--self-avatar",
            self.avatar,
            *(["--self-variant", self.variant] if self.variant else []),
            *self.render_args,
        )
