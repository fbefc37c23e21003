#!/usr/bin/env python3
"""Benchmark a 3D avatar's P2P transfer in a real call: a VRoid-sized VRM while frames flow.

    python scripts/bench_transfer.py --mib 12 --json out.json

alice announces her own VRM (the built-in nova grown to ``--mib`` MiB with random bytes:
:mod:`netlab.vrm_kit`); bob asks for it and receives it chunk by chunk on the ``ctl`` channel,
paced behind the parameter frames (:mod:`peer.ctl_handler`). Both clients are what
``avatarchat call`` runs, with the synthetic tracker. Keys:

- ``transfer_s``: bob's first ``avatar_progress`` to his ``peer_avatar`` with the model
  (hash checked and the file parsed); ``kib_per_s``: the file's size over that;
- ``recv_hz_min`` / ``recv_hz_mean``: bob's frame rate from alice over the stats seconds of
  the transfer (the synthetic tracker sends about 30);
- ``e2e_ms_p99_max``: the worst p99 of bob's frame latency window during and just after it;
- ``peer_lost``, ``reconnects``: link drops during the call (the transfer must cause none);
- ``ok``: the model arrived intact.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from call import Call, CallConfig, CallEvent, LocalRelay, as_record
from netlab.vrm_kit import variant_vrm
from protocol.signaling import new_room_code


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    mine = work / "alice.vrm"
    mine.write_bytes(variant_vrm("bench", int(args.mib * 1024 * 1024)))
    size = mine.stat().st_size
    digest = hashlib.sha256(mine.read_bytes()).hexdigest()
    events: list[tuple[float, dict[str, Any]]] = []

    def on_bob(source: str, event: CallEvent) -> None:
        if source == "peer":
            events.append((time.monotonic(), as_record(source, event)))

    relay = LocalRelay(lambda _source, _event: None, host="127.0.0.1")
    await relay.start()
    room = new_room_code()
    env = {**os.environ, "AVATARCHAT_PACK_CACHE": str(work / "cache")}
    sessions: list[Call] = []
    start = done = None
    ref = ""
    try:
        for name, own, cb in (("alice", str(mine), None), ("bob", "aria", on_bob)):
            cfg = CallConfig(
                relay=relay.local_url, room=room, source="synthetic", name=name, env=env,
                avatar=own,
            )  # fmt: skip
            session = Call(cfg, cb)
            sessions.append(session)
            await session.start()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and done is None:
            for t, e in events:
                if start is None and e["event"] == "avatar_progress":
                    start = t
                if e["event"] == "peer_avatar" and not e["pending"] and start is not None:
                    done, ref = t, e["ref"]
            await asyncio.sleep(0.1)
        intact = bool(ref) and Path(ref).is_file()
        intact = intact and hashlib.sha256(Path(ref).read_bytes()).hexdigest() == digest
        await asyncio.sleep(1.2)  # one more stats event, its latency window covering the end
    finally:
        for session in sessions:
            await session.close()
        await relay.stop()
        shutil.rmtree(work, ignore_errors=True)
    end = (done or time.monotonic()) + 1.2
    during = [e for t, e in events if e["event"] == "stats" and start and start <= t <= end]
    hz = [float(e.get("recv_hz") or 0.0) for e in during]
    p99 = [(e.get("e2e_ms") or {}).get("p99") for e in during]
    states = [e["state"] for _, e in events if e["event"] == "status"]
    transfer_s = (done - start) if (done and start) else None
    return {
        "mib": args.mib,
        "bytes": size,
        "ok": intact,
        "transfer_s": round(transfer_s, 2) if transfer_s else None,
        "kib_per_s": round(size / 1024 / transfer_s, 1) if transfer_s else None,
        "recv_hz_min": min(hz) if hz else None,
        "recv_hz_mean": round(sum(hz) / len(hz), 1) if hz else None,
        "e2e_ms_p99_max": max((v for v in p99 if v is not None), default=None),
        "peer_lost": states.count("peer_lost"),
        "reconnects": states.count("reconnecting"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mib", type=float, default=12.0, help="model size to add to nova (MiB)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this long (s)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args()
    result = asyncio.run(bench(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
