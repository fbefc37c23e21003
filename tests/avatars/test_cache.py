"""The pack cache is bounded (issue 15, defect 5): packs and bytes capped, LRU eviction.

Six distinct packs a peer sent used to put 47 MB in the cache in 50 s, and nothing ever
removed them. These install real packs (zips through :func:`install_pack_bytes`, the path a
received pack takes) into a cache with small caps and check which ones survive.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import avatars.cache as cache_mod
from avatars import install_pack_bytes, load_pack, pack_bytes
from avatars.cache import entries, evict, make_room, sweep_leftovers
from avatars.pack import find_pack, find_pack_ref

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


def _distinct_packs(valid_pack: Path, n: int) -> list[tuple[bytes, str]]:
    """``n`` valid packs that differ only in their display name: (zip bytes, content hash)."""
    out = []
    for i in range(n):
        root = valid_pack.parent / f"variant{i}"
        shutil.copytree(valid_pack, root)
        manifest = root / "avatar.toml"
        manifest.write_text(manifest.read_text().replace('name = "Testy"', f'name = "T{i}"', 1))
        pack = load_pack(root)
        out.append((pack_bytes(pack), pack.content_hash))
    assert len({h for _, h in out}) == n
    return out


def _age(cache: Path, digest: str, seconds_ago: float) -> None:
    """Pretend ``digest`` was last used ``seconds_ago`` (mtime is the LRU clock)."""
    t = os.stat(cache / digest).st_mtime - seconds_ago
    os.utime(cache / digest, (t, t))


def _cached(cache: Path) -> set[str]:
    return {e.digest for e in entries(cache)}


def test_count_cap_evicts_the_least_recently_used(
    valid_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "MAX_CACHE_PACKS", 3)
    cache = tmp_path / "cache"
    packs = _distinct_packs(valid_pack, 5)
    for age, (data, digest) in zip((40, 30, 20), packs, strict=False):
        install_pack_bytes(data, cache, digest)
        _age(cache, digest, age)
    # The oldest install is used again (a lookup, as the peer does for a hello): it stays.
    assert find_pack_ref(packs[0][1], cache) is not None
    install_pack_bytes(packs[3][0], cache, packs[3][1])
    assert _cached(cache) == {packs[0][1], packs[2][1], packs[3][1]}  # packs[1] was LRU
    assert find_pack(packs[1][1], cache) is None
    # Nothing but the packs themselves is left in the cache folder.
    assert sorted(p.name for p in cache.iterdir()) == sorted(_cached(cache))


def test_byte_cap_evicts_until_the_new_pack_fits(
    valid_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    packs = _distinct_packs(valid_pack, 4)
    install_pack_bytes(packs[0][0], cache, packs[0][1])
    size = entries(cache)[0].size
    monkeypatch.setattr(cache_mod, "MAX_CACHE_BYTES", int(size * 2.5))
    for age, (data, digest) in zip((30, 20, 10, 0), packs, strict=True):
        install_pack_bytes(data, cache, digest)
        _age(cache, digest, age - 100)  # later installs are more recent
    assert _cached(cache) == {packs[2][1], packs[3][1]}
    assert sum(e.size for e in entries(cache)) <= cache_mod.MAX_CACHE_BYTES


def test_kept_packs_are_never_evicted(
    valid_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "MAX_CACHE_PACKS", 2)
    cache = tmp_path / "cache"
    packs = _distinct_packs(valid_pack, 3)
    for age, (data, digest) in zip((30, 20), packs, strict=False):
        install_pack_bytes(data, cache, digest)
        _age(cache, digest, age)
    # packs[0] is the oldest, but it is the one this call draws.
    install_pack_bytes(packs[2][0], cache, packs[2][1], keep={packs[0][1]})
    assert _cached(cache) == {packs[0][1], packs[2][1]}


def test_many_installs_stay_within_both_caps(
    valid_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack's shape: one distinct pack after another; the cache never grows past a cap."""
    monkeypatch.setattr(cache_mod, "MAX_CACHE_PACKS", 4)
    cache = tmp_path / "cache"
    for data, digest in _distinct_packs(valid_pack, 12):
        installed = install_pack_bytes(data, cache, digest)
        assert installed.is_dir()  # the newest is always there
        assert len(entries(cache)) <= 4


def test_eviction_is_atomic_for_a_reader(valid_pack: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pack = load_pack(valid_pack)
    path = install_pack_bytes(pack_bytes(pack), cache, pack.content_hash)
    image = path / "layers/head.png"
    expected = image.read_bytes()
    with image.open("rb") as reader:  # a render window in the middle of loading
        reader.read(10)
        assert evict(path)
        assert not path.exists()  # gone in one step: a lookup finds all of it or nothing
        assert find_pack_ref(pack.content_hash, cache) is None
        assert expected[:10] + reader.read() == expected  # what it had opened stays whole
    assert list(cache.iterdir()) == []
    assert evict(path) is False  # a second evictor (another process) finds nothing


def test_leftovers_of_a_crash_are_swept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / ".evicted-abc-1234").mkdir(parents=True)
    (cache / ".incoming-old").mkdir()
    (cache / ".incoming-new").mkdir()
    old = os.stat(cache / ".incoming-old").st_mtime - cache_mod.STALE_INCOMING_S - 5
    os.utime(cache / ".incoming-old", (old, old))
    (cache / "not-a-pack").mkdir()  # never ours to delete
    sweep_leftovers(cache)
    assert sorted(p.name for p in cache.iterdir()) == [".incoming-new", "not-a-pack"]
    assert make_room(cache, 10) == []
