"""The lab's namespaces come up with the promised reachability and leave nothing behind."""

from __future__ import annotations

import subprocess

import pytest

import netlab

pytestmark = pytest.mark.usefixtures("netns_ok")


def _links_in_root() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def test_direct_pair_reaches_and_is_torn_down() -> None:
    before = _links_in_root()
    with netlab.direct() as lab:
        names = list(lab.ns.values())
        assert set(names) <= set(netlab.list_namespaces())
        rtts = lab.udp_rtts("a", "b", count=20)
        assert all(r is not None for r in rtts)
        assert "UP" in lab.run("a", ["ip", "-o", "link", "show", "dev", "lo"])
    assert not set(names) & set(netlab.list_namespaces())
    assert _links_in_root() == before  # veths lived in the namespaces only


@pytest.mark.netlab_needs(netlab.TUN_DEVICE)
def test_teardown_on_error_and_stale_cleanup() -> None:
    with pytest.raises(RuntimeError), netlab.routed() as lab:
        lab.set_delay(5)  # a shim process inside M must be stopped too
        names = list(lab.ns.values())
        raise RuntimeError("boom")
    assert not set(names) & set(netlab.list_namespaces())
    # A crashed run's namespace: its pid part names a process that no longer exists.
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{netlab.PREFIX}{dead.pid}-dead00-a"
    netlab.sh(["ip", "netns", "add", stale])
    assert stale in netlab.cleanup_stale()
    assert stale not in netlab.list_namespaces()


def test_turn_split_has_no_path_between_a_and_b() -> None:
    with netlab.turn_split() as lab:
        for src, dst in (("a", "b"), ("b", "a")):
            route = subprocess.run(
                lab.argv(src, ["ip", "route", "get", lab.addr[dst]]), capture_output=True, text=True
            )
            assert route.returncode != 0, route.stdout
            assert "unreachable" in route.stderr
            # Both reach the service address (coturn, relay) on T.
            assert all(r is not None for r in lab.udp_rtts(src, "t", count=10))
        # Even with a route, T would not forward: forwarding is off there.
        assert lab.run("t", ["sysctl", "-n", "net.ipv4.ip_forward"]).strip() == "0"
