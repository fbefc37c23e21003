"""Hostile bytes from a peer: installing them either succeeds or raises PackError, nothing else."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatars import PackError, install_pack_bytes, load_pack, pack_bytes
from tests.avatars.packkit import write_valid_pack

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


@functools.cache
def _sample_zip() -> tuple[bytes, str]:
    with tempfile.TemporaryDirectory() as tmp:
        pack = load_pack(write_valid_pack(Path(tmp) / "fuzzpack"))
        return pack_bytes(pack), pack.content_hash


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 10**6),
)
def test_mutated_zips_raise_only_pack_errors(
    tmp_path: Path, flips: list[tuple[int, int]], cut: int
) -> None:
    data, digest = _sample_zip()
    buf = bytearray(data)
    for pos, x in flips:
        buf[pos % len(buf)] ^= x
    if cut % 3 == 0:
        buf = buf[: cut % len(buf)]
    try:
        install_pack_bytes(bytes(buf), tmp_path / "cache", digest)
    except PackError:
        pass
