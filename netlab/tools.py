"""What the network lab needs from the machine: external programs (and the TUN device), each
named with the Debian package that ships it.

Why a list: a fresh machine should say "install iptables", not fail half-way through building a
lab; ``scripts/system-deps.sh`` installs the same packages, and tests skip with these names.
"""

from __future__ import annotations

import os
import shutil

#: External programs the lab runs, with the Debian package that ships each (for skip reasons;
#: ``scripts/system-deps.sh`` installs the same packages). A need starting with "/" is a path.
TOOLS = {
    "ip": "iproute2",
    "ss": "iproute2",
    "sysctl": "procps",
    "iptables": "iptables",
    "turnserver": "coturn",
}
#: Every topology runs these; ``unavailable_reason(*extra)`` adds what a test needs beyond them.
BASE_TOOLS = ("ip", "ss", "sysctl")
#: The delay shim's TUN device (kernel ``tun`` module), needed by ``set_delay``.
TUN_DEVICE = "/dev/net/tun"
#: Comma-separated tool names to treat as not installed: shows what a fresh machine's run
#: reports (``NETLAB_HIDE_TOOLS=iptables pytest tests/netlab``) without uninstalling anything.
HIDE_ENV = "NETLAB_HIDE_TOOLS"


def which(tool: str) -> str | None:
    """``shutil.which`` (the PATH the lab's commands will use) honouring :data:`HIDE_ENV`."""
    hidden = {t.strip() for t in os.environ.get(HIDE_ENV, "").split(",") if t.strip()}
    return None if tool in hidden else shutil.which(tool)


def missing(*needs: str) -> list[str]:
    """The tools (or paths) among ``needs`` that this machine lacks, each with its package."""
    out = []
    for need in needs:
        if need.startswith("/"):
            if not os.path.exists(need):
                out.append(f"{need} (kernel tun module)" if need == TUN_DEVICE else need)
        elif which(need) is None:
            out.append(f"{need} (Debian package {TOOLS.get(need, need)})")
    return out
