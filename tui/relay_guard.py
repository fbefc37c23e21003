"""``python -m tui.relay_guard ARGS``: the relay, ended when the TUI that started it goes away.

The other children follow the control-channel contract (EOF on stdin = quit), so they end by
themselves if the TUI is killed outright (SIGKILL, a crash before cleanup). The relay is a
standalone server and does not read stdin; this wrapper adds exactly that: a daemon thread
waits for EOF (or a ``quit`` line) on stdin and sends the relay its graceful-shutdown SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def _watch_stdin() -> None:
    try:
        for line in sys.stdin:
            if '"quit"' in line:
                break
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    threading.Thread(target=_watch_stdin, name="stdin-guard", daemon=True).start()
    from relay.__main__ import main as relay_main

    return relay_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
