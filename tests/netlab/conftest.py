"""Fixtures for the network lab tests: skip cleanly where namespaces cannot be made."""

from __future__ import annotations

import pytest

from tests import netlab


@pytest.fixture(scope="session")
def netns_ok() -> None:
    """Skip unless this process may create network namespaces (root, iproute2)."""
    reason = netlab.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    netlab.cleanup_stale()
