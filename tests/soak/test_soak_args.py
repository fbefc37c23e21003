"""soak.py's command line: CPU pinning is parsed strictly and ends up in the JSON config."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pytest

from netlab import soak_report

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))  # soak.py is a script, not a package

import soak  # noqa: E402


def test_cpu_list_accepts_ranges_of_allowed_cpus() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    first = allowed[0]
    assert soak.parse_cpu_list(str(first)) == {first}
    if len(allowed) >= 2 and allowed[1] == first + 1:
        assert soak.parse_cpu_list(f"{first}-{first + 1}") == {first, first + 1}


@pytest.mark.parametrize("text", ["x", "0-", "", "1,,2"])
def test_cpu_list_rejects_malformed_text(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected CPU numbers"):
        soak.parse_cpu_list(text)


def test_cpu_list_rejects_cpus_this_process_cannot_use() -> None:
    missing = max(os.sched_getaffinity(0)) + 1
    with pytest.raises(argparse.ArgumentTypeError, match=f"CPUs \\[{missing}\\] are not available"):
        soak.parse_cpu_list(f"{missing}")


def test_pinned_config_is_written_as_json() -> None:
    cpu = min(os.sched_getaffinity(0))
    args = soak.parse_args(["--cpus", str(cpu), "--json", "out.json"])
    summary = soak_report.summarize([], vars(args), command="python scripts/soak.py")
    assert json.loads(json.dumps(summary))["config"]["cpus"] == [cpu]
