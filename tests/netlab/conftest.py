"""Fixtures for the network lab tests: skip cleanly where a lab cannot be built.

A test that needs more than namespaces (iptables for loss, coturn, the TUN device for delay)
says so with ``@pytest.mark.netlab_needs("iptables", ...)``; ``netns_ok`` then skips it with a
reason naming what is missing instead of letting the lab fail half-way.
"""

from __future__ import annotations

import pytest

import netlab


@pytest.fixture(scope="session")
def _netlab_clean() -> None:
    """Remove namespaces a crashed earlier run left behind (once per session)."""
    if netlab.unavailable_reason() is None:
        netlab.cleanup_stale()


@pytest.fixture
def netns_ok(request: pytest.FixtureRequest, _netlab_clean: None) -> None:
    """Skip unless this process may create network namespaces (root, iproute2, procps) and has
    every tool the test's ``netlab_needs`` marks name."""
    needs = [n for mark in request.node.iter_markers("netlab_needs") for n in mark.args]
    reason = netlab.unavailable_reason(*needs)
    if reason is not None:
        pytest.skip(reason)
