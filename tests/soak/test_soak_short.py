"""A short soak in CI: real calls (tracking on clips, ``python -m peer``, the relay) between
network namespaces, one clean and one with loss and delay, through ``scripts/soak.py`` itself.

The full run (20 x 5 minutes) is the lead's to launch; this keeps the machinery and the call
honest on every commit. Bounds are generous: CI has 2 cores shared by two trackers. Each call
lasts 12 s after connecting (``--minutes 0.2``): enough frames (about 300 per direction) for the
loss and latency bounds below; drift and growth over minutes are the full soak's to prove.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netlab

REPO = Path(__file__).resolve().parents[2]
SOAK = REPO / "scripts" / "soak.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module", autouse=True)
def _needs_netns() -> None:
    # The impaired call needs iptables (loss) and the TUN device (the delay shim).
    reason = netlab.unavailable_reason("iptables", netlab.TUN_DEVICE)
    if reason is not None:
        pytest.skip(reason)


def _soak(tmp_path: Path, name: str, *extra: str, report: bool = True) -> dict[str, Any]:
    """One soak run; ``report``: also the Markdown and plots (matplotlib costs several
    seconds, so only one of the two runs draws them)."""
    out = tmp_path / f"{name}.json"
    if not report:
        extra = (*extra, "--no-report")
    with subprocess.Popen(
        [sys.executable, str(SOAK), "--calls", "1", "--minutes", "0.2", "--json", str(out),
         "--keep-logs", str(tmp_path / f"{name}-logs"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    ) as proc:  # fmt: skip
        _, stderr = proc.communicate(timeout=200)
    assert out.exists(), stderr[-3000:]
    summary: dict[str, Any] = json.loads(out.read_text())
    for suffix in (".md", "-latency.png", "-cpu.png", "-rss.png"):
        assert (tmp_path / f"{name}{suffix}").exists() is report
        assert not report or (tmp_path / f"{name}{suffix}").stat().st_size > 0
    assert not netlab.list_namespaces(f"{netlab.PREFIX}{proc.pid}-"), "namespaces left behind"
    return summary


def _check_common(s: dict[str, Any], connect_limit_s: float = 5) -> dict[str, Any]:
    for key in ("calls", "succeeded", "e2e_ms_p50", "e2e_ms_p99", "delivered_ratio_min",
                "rss_growth_mb_max", "latency_drift_ms_max"):  # fmt: skip
        assert key in s
    assert s["succeeded"] == s["calls"] == 1, s["per_call"][0]["failures"]
    call: dict[str, Any] = s["per_call"][0]
    assert call["connect_s"] <= connect_limit_s
    for d in call["directions"].values():
        assert d["max_gap_s"] <= 2
        assert d["frames_delivered"] > 100  # ~12 s at 20-30 Hz (8+ Hz on a loaded box)
        assert d["bad_payloads"] == 0
    return call


def test_short_soak_clean_and_impaired(tmp_path: Path) -> None:
    clean = _soak(tmp_path, "clean", report=False)
    call = _check_common(clean)
    assert call["topology"] == "direct"
    assert clean["delivered_ratio_min"] >= 0.98
    assert clean["e2e_ms_p50"] < 60
    assert clean["e2e_ms_p99"] < 200

    # Connect limit 15 s, not the 5, for the lossy call only: CI must not fail on a
    # rare unlucky handshake. With the SCTP initial RTO at 1 s (peer/connection.py) 12 calls at
    # 5% loss connected in 0.5-1.6 s (it was 0.5-7.8 s at aiortc's 3 s); the full soak keeps the
    # issue's 5 s and counts a slower call as failed.
    impaired = _soak(tmp_path, "impaired", "--loss", "5", "--delay", "40", "--jitter", "10",
                     "--connect-limit", "15")  # fmt: skip
    call = _check_common(impaired, connect_limit_s=15)
    assert call["topology"] == "routed"
    # 40 ms one way is on the path: the median cannot be below it (the shim really delays).
    assert 40 < impaired["e2e_ms_p50"] < 110
    assert impaired["e2e_ms_p99"] < 300
    # 5% network loss per direction; generous for CI noise over ~300 frames (sd ~1.3%).
    assert 0.85 <= impaired["delivered_ratio_min"] <= 0.995
    assert impaired["rss_growth_mb_max"] < 30
