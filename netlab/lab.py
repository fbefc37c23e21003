"""Network lab implementation: namespaces, topologies, impairment, coturn.

See the package docstring (``netlab/__init__.py``) for the topologies and why they are
built this way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from protocol.ring import pid_exists

from .tools import BASE_TOOLS, TUN_DEVICE, missing

log = logging.getLogger(__name__)

PREFIX = "avc-"
#: The delay shim, run by module name: ``netlab`` is installed, so this works from any cwd.
SHIM_MODULE = "netlab.shim"
#: Reachable from A and B in turn_split and routed: a /32 on the middle host's lo.
SERVICE_ADDR = "10.231.3.1"
#: A command that should answer in well under a second; bounds every ``ip`` call.
CMD_TIMEOUT_S = 15
#: Policy-routing table and rule priority used in M for the delay shim (any free numbers).
SHIM_TABLE = 231
SHIM_RULE_PRIO = 1000


class NetlabError(RuntimeError):
    """A lab could not be built (a command failed); the message carries its stderr."""


def sh(argv: Sequence[str], *, check: bool = True, ns: str | None = None) -> str:
    """Run a short command (optionally inside namespace ``ns``) and return its stdout."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    proc = subprocess.run(full, capture_output=True, text=True, timeout=CMD_TIMEOUT_S)
    if check and proc.returncode != 0:
        raise NetlabError(f"{' '.join(full)}: rc={proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def require(*needs: str) -> None:
    """Raise :class:`NetlabError` naming whatever of ``needs`` is missing (scripts' check)."""
    lacking = missing(*needs)
    if lacking:
        raise NetlabError(f"not installed: {', '.join(lacking)}; see scripts/system-deps.sh")


def unavailable_reason(*needs: str) -> str | None:
    """None if namespaces can be made here and ``needs`` (tool names such as ``"iptables"``,
    ``"turnserver"``, or :data:`TUN_DEVICE`) are all present, else a reason for pytest.skip.

    Missing tools are named before trying to create a namespace, so a fresh machine's skip says
    what to install, not what failed half-way."""
    lacking = missing(*BASE_TOOLS, *needs)
    if lacking:
        return (
            f"network lab needs {', '.join(lacking)}: not found on PATH "
            "(scripts/system-deps.sh installs the packages when run as root)"
        )
    name = f"{PREFIX}{os.getpid()}-probe"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"cannot create network namespaces (needs root): {proc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    out = sh(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def _pids_in(ns: str) -> list[int]:
    out = sh(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def _kill_ns_processes(ns: str) -> None:
    """SIGTERM, then SIGKILL, every process still inside ``ns`` (all were started by a lab)."""
    for sig, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        pids = _pids_in(ns)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while _pids_in(ns) and time.monotonic() < deadline:
            time.sleep(0.05)


def delete_namespace(ns: str) -> None:
    _kill_ns_processes(ns)
    sh(["ip", "netns", "del", ns], check=False)


def cleanup_stale() -> list[str]:
    """Delete ``avc-<pid>-...`` namespaces whose creating process is gone (crashed runs)."""
    removed = []
    for ns in list_namespaces():
        parts = ns[len(PREFIX) :].split("-")
        if parts and parts[0].isdigit() and not pid_exists(int(parts[0])):
            delete_namespace(ns)
            removed.append(ns)
    if removed:
        log.info("removed stale namespaces: %s", removed)
    return removed


@dataclass
class Lab:
    """A running topology. ``ns[role]`` is a namespace name, ``addr[role]`` its main address."""

    kind: str
    ns: dict[str, str] = field(default_factory=dict)
    addr: dict[str, str] = field(default_factory=dict)
    #: role of the namespace where the relay / coturn should run, and its address
    service_role: str = "a"
    service_addr: str = ""
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)
    shim: subprocess.Popen[str] | None = None

    def run(self, role: str, argv: Sequence[str], *, check: bool = True) -> str:
        return sh(argv, check=check, ns=self.ns[role])

    def popen(self, role: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside ``role``'s namespace; stopped (if still running) on teardown."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns[role], *argv], **kwargs)
        self.procs.append(proc)
        return proc

    def argv(self, role: str, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside ``role`` (for callers that spawn it themselves)."""
        return ["ip", "netns", "exec", self.ns[role], *argv]

    # -- impairment (routed only) ------------------------------------------------------------

    def set_loss(self, loss: float) -> None:
        """Drop each packet with probability ``loss``, independently per direction.

        routed: on M's FORWARD chain, once per direction (in-interface ma or mb). turn_split:
        on T's INPUT chain, so each leg of the relayed path (A->T, B->T) loses ``loss``.
        """
        if self.kind == "routed":
            role, chain = "m", "FORWARD"
        elif self.kind == "turn_split":
            role, chain = "t", "INPUT"
        else:
            raise NetlabError(f"loss needs the routed or turn_split topology, not {self.kind}")
        require("iptables")
        sh(["iptables", "-F", chain], ns=self.ns[role])
        if loss <= 0:
            return
        for dev in ("ma", "mb"):
            sh(["iptables", "-A", chain, "-i", dev, "-m", "statistic", "--mode", "random",
                "--probability", f"{loss:.6f}", "-j", "DROP"], ns=self.ns[role])  # fmt: skip

    def set_delay(self, delay_ms: float, jitter_ms: float = 0.0, dist: str = "uniform") -> None:
        """Delay every forwarded packet by ``delay_ms +- jitter_ms`` (starts the shim once)."""
        self._need_routed()
        if self.shim is None or self.shim.poll() is not None:
            self._start_shim()
        assert self.shim is not None and self.shim.stdin is not None
        cmd = {"cmd": "set", "delay_ms": delay_ms, "jitter_ms": jitter_ms, "dist": dist}
        self.shim.stdin.write(json.dumps(cmd) + "\n")
        self.shim.stdin.flush()
        _expect_event(self.shim, "set")

    def shim_stats(self) -> dict[str, Any]:
        """Packets the shim forwarded so far (proves traffic really went through it)."""
        if self.shim is None or self.shim.stdin is None:
            return {}
        self.shim.stdin.write('{"cmd": "stats"}\n')
        self.shim.stdin.flush()
        return _expect_event(self.shim, "stats")

    def _need_routed(self) -> None:
        if self.kind != "routed":
            raise NetlabError(f"impairment needs the routed topology, not {self.kind}")

    def _start_shim(self) -> None:
        m = self.ns["m"]
        require(TUN_DEVICE)
        self.shim = self.popen(
            "m", [sys.executable, "-m", SHIM_MODULE, "--tun", "shim0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        _expect_event(self.shim, "ready")
        # Forwarded traffic from either side goes into the TUN; what the shim writes back comes
        # in on shim0 and follows the main table. Local traffic never gets here (local table).
        sh(["ip", "route", "replace", "default", "dev", "shim0", "table", str(SHIM_TABLE)], ns=m)
        for dev in ("ma", "mb"):
            sh(["ip", "rule", "add", "iif", dev, "priority", str(SHIM_RULE_PRIO),
                "table", str(SHIM_TABLE)], ns=m)  # fmt: skip

    # -- measurement ---------------------------------------------------------------------------

    def udp_rtts(
        self, src: str, dst: str, *, count: int = 200, interval_s: float = 0.005, port: int = 9
    ) -> list[float | None]:
        """Round-trip times (ms; None = lost) of ``count`` UDP probes from ``src`` to an echo
        server in ``dst``: how tests prove that loss and delay are really on the path."""
        server = self.popen(dst, [sys.executable, "-c", _ECHO_SERVER, self.addr[dst], str(port)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert server.stdout is not None
            server.stdout.readline()  # "ready": bound before the first probe
            out = self.run(src, [sys.executable, "-c", _ECHO_CLIENT, self.addr[dst], str(port),
                                 str(count), str(interval_s)])  # fmt: skip
        finally:
            _stop(server)
        return [None if v is None else float(v) for v in json.loads(out)]

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        for ns in self.ns.values():
            delete_namespace(ns)


_ECHO_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""

#: Sends numbered probes at a fixed pace while collecting echoes; waits 1 s after the last one
#: (longer than any delay the lab applies) before calling the rest lost.
_ECHO_CLIENT = """
import json, select, socket, struct, sys, time
host, port, count, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
sent, rtts = {}, [None] * count
i, t_next, t_end = 0, time.monotonic(), None
while True:
    now = time.monotonic()
    if i < count and now >= t_next:
        sent[i] = now
        s.send(struct.pack("!Id", i, now) + bytes(92))
        i += 1
        t_next += interval
        if i == count:
            t_end = now + 1.0
    if t_end is not None and now >= t_end:
        break
    wait = max(0.0, (t_next if i < count else t_end) - now)
    if select.select([s], [], [], wait)[0]:
        data = s.recv(2048)
        k, t0 = struct.unpack("!Id", data[:12])
        rtts[k] = round((time.monotonic() - t0) * 1000, 3)
print(json.dumps(rtts))
"""


def _expect_event(
    proc: subprocess.Popen[str], event: str, timeout_s: float = 10.0
) -> dict[str, Any]:
    """Read the shim's stdout until ``event`` (bounded: the shim answers at once or has died)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise NetlabError(f"shim exited (rc={proc.poll()}) before {event!r}")
        data: dict[str, Any] = json.loads(line)
        if data.get("event") == event:
            return data
    raise NetlabError(f"shim did not answer {event!r} within {timeout_s} s")


def _stop(proc: subprocess.Popen[Any], timeout_s: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        if proc.stdin:
            proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def _new_lab(kind: str, roles: Sequence[str]) -> Lab:
    cleanup_stale()
    run_id = f"{os.getpid()}-{secrets.token_hex(3)}"
    lab = Lab(kind=kind)
    for role in roles:
        name = f"{PREFIX}{run_id}-{role}"
        sh(["ip", "netns", "add", name])
        lab.ns[role] = name
        sh(["ip", "link", "set", "lo", "up"], ns=name)
    return lab


def _veth(lab: Lab, left: str, ldev: str, right: str, rdev: str) -> None:
    """A veth pair created directly inside the two namespaces (no name clash in the root ns).

    Always ``dev NAME``: ``ip link set ma up`` parses "ma" as an abbreviation of "master".
    """
    sh(["ip", "-n", lab.ns[left], "link", "add", ldev, "type", "veth",
        "peer", "name", rdev, "netns", lab.ns[right]])  # fmt: skip
    sh(["ip", "-n", lab.ns[left], "link", "set", "dev", ldev, "up"])
    sh(["ip", "-n", lab.ns[right], "link", "set", "dev", rdev, "up"])


def _addr(lab: Lab, role: str, dev: str, cidr: str) -> None:
    sh(["ip", "-n", lab.ns[role], "addr", "add", cidr, "dev", dev])


def _route(lab: Lab, role: str, *spec: str) -> None:
    sh(["ip", "-n", lab.ns[role], "route", "add", *spec])


def _sysctl(lab: Lab, role: str, key: str, value: str) -> None:
    sh(["sysctl", "-q", "-w", f"{key}={value}"], ns=lab.ns[role])


@contextlib.contextmanager
def _lifecycle(kind: str, roles: Sequence[str]) -> Iterator[Lab]:
    lab = _new_lab(kind, roles)
    try:
        yield lab
    finally:
        lab.close()


@contextlib.contextmanager
def direct() -> Iterator[Lab]:
    """A and B on one link (10.231.1.0/24); services run in A."""
    with _lifecycle("direct", ("a", "b")) as lab:
        _veth(lab, "a", "eth0", "b", "eth0")
        _addr(lab, "a", "eth0", "10.231.1.1/24")
        _addr(lab, "b", "eth0", "10.231.1.2/24")
        lab.addr.update(a="10.231.1.1", b="10.231.1.2")
        lab.service_role, lab.service_addr = "a", "10.231.1.1"
        yield lab


def _three_hosts(lab: Lab, mid: str, forward: bool) -> None:
    _veth(lab, "a", "eth0", mid, "ma")
    _veth(lab, "b", "eth0", mid, "mb")
    _addr(lab, "a", "eth0", "10.231.1.1/24")
    _addr(lab, "b", "eth0", "10.231.2.1/24")
    _addr(lab, mid, "ma", "10.231.1.254/24")
    _addr(lab, mid, "mb", "10.231.2.254/24")
    _addr(lab, mid, "lo", f"{SERVICE_ADDR}/32")
    _sysctl(lab, mid, "net.ipv4.ip_forward", "1" if forward else "0")
    lab.addr.update(a="10.231.1.1", b="10.231.2.1", **{mid: SERVICE_ADDR})
    lab.service_role, lab.service_addr = mid, SERVICE_ADDR


@contextlib.contextmanager
def turn_split() -> Iterator[Lab]:
    """A and B with no route to each other; T (coturn, relay) reachable from both."""
    with _lifecycle("turn_split", ("a", "b", "t")) as lab:
        _three_hosts(lab, "t", forward=False)
        # Only the service address is routed; 10.231.2.0/24 stays unreachable from A and back.
        _route(lab, "a", SERVICE_ADDR, "via", "10.231.1.254")
        _route(lab, "b", SERVICE_ADDR, "via", "10.231.2.254")
        yield lab


@contextlib.contextmanager
def routed(loss: float = 0.0, delay_ms: float = 0.0, jitter_ms: float = 0.0) -> Iterator[Lab]:
    """A and B routed through M, where loss (iptables) and delay/jitter (shim) are applied."""
    with _lifecycle("routed", ("a", "b", "m")) as lab:
        _three_hosts(lab, "m", forward=True)
        # The shim's packets re-enter on the TUN with sources that route via ma/mb: strict
        # reverse-path filtering would drop them.
        for key in ("all", "default"):
            _sysctl(lab, "m", f"net.ipv4.conf.{key}.rp_filter", "0")
        _route(lab, "a", "default", "via", "10.231.1.254")
        _route(lab, "b", "default", "via", "10.231.2.254")
        if loss > 0:
            lab.set_loss(loss)
        if delay_ms > 0 or jitter_ms > 0:
            lab.set_delay(delay_ms, jitter_ms)
        yield lab


@dataclass
class Coturn:
    """A test coturn in ``lab``'s service namespace, ``use-auth-secret`` with a fresh secret.

    Why its own config: the system's coturn config (and a hardened one) denies private peer
    ranges, and ours must relay between 10.231.x addresses; nothing here listens outside the
    lab's namespaces.
    """

    lab: Lab
    port: int = 3478
    realm: str = "avatarchat.test"
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen[Any] | None = None
    workdir: Path | None = None
    log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:{self.lab.service_addr}:{self.port}?transport=udp"

    def config(self) -> str:
        ip = self.lab.service_addr
        assert self.workdir is not None
        return "\n".join([
            f"listening-port={self.port}", f"listening-ip={ip}", f"relay-ip={ip}",
            "min-port=49152", "max-port=49999", f"realm={self.realm}",
            "use-auth-secret", f"static-auth-secret={self.secret}", "fingerprint",
            "no-tls", "no-dtls", "no-cli", "no-tcp-relay", "no-multicast-peers",
            f"userdb={self.workdir / 'turndb'}", f"pidfile={self.workdir / 'turn.pid'}",
            "simple-log", "log-file=stdout", "",
        ])  # fmt: skip

    def credentials(self, ttl: int = 3600) -> tuple[str, str]:
        """(username, password) in coturn's REST scheme, via the relay's own implementation."""
        from relay.turn import issue_credentials

        creds = issue_credentials(self.secret, [self.url], ttl)
        return creds.username, creds.credential

    def start(self, timeout_s: float = 10.0) -> Coturn:
        require("turnserver")
        self.workdir = Path(tempfile.mkdtemp(prefix="avc-coturn-"))
        conf = self.workdir / "turnserver.conf"
        conf.write_text(self.config())
        self.log_file = open(self.workdir / "turnserver.log", "wb")  # noqa: SIM115
        self.proc = self.lab.popen(
            self.lab.service_role, ["turnserver", "-c", str(conf)],
            stdout=self.log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        want = f"{self.lab.service_addr}:{self.port}"
        deadline = time.monotonic() + timeout_s
        while want not in self.lab.run(self.lab.service_role, ["ss", "-Hlun"], check=False):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise NetlabError(f"coturn did not listen on {want}: {self.log_tail()}")
            time.sleep(0.05)
        return self

    def log_tail(self, n: int = 20) -> str:
        if self.workdir is None or not (self.workdir / "turnserver.log").exists():
            return ""
        return "\n".join((self.workdir / "turnserver.log").read_text(errors="replace")
                         .splitlines()[-n:])  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        if self.log_file is not None:
            self.log_file.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Coturn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
