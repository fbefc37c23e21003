"""Loading packs (custom and built-in), identity hashes, and peer transfer bytes."""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from avatars import (
    PackError,
    PackIntegrityError,
    PackNotFoundError,
    PackValidationError,
    UnknownVariantError,
    binding_value,
    builtin_dir,
    builtin_ids,
    install_pack_bytes,
    load_pack,
    pack_bytes,
    select_sprite,
    validate_pack,
)
from avatars.model import Binding
from avatars.params import PARAM_SET
from avatars.source import MAX_PACK_BYTES, content_hash, read_dir

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV


def zip_dir(src: Path, dest: Path, top: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, top + f.relative_to(src).as_posix())
    return dest


# -- loading ---------------------------------------------------------------------------------


def test_custom_pack_loads_with_all_fields(valid_pack: Path) -> None:
    pack = load_pack(valid_pack)
    assert (pack.id, pack.name, pack.version, pack.canvas) == ("testy", "Testy", "0.1.0", (64, 64))
    assert [la.id for la in pack.layers] == ["head", "face", "eye"]
    head, face, eye = pack.layers
    assert head.parent is None and face.parent == "head" and eye.parent == "face"
    assert face.position == (16, 16) and face.pivot == (32, 32) and face.mesh == (4, 2)
    assert face.size == (32, 32) and eye.size == (8, 8) and head.image.is_file()
    yaw = head.bindings[0]
    assert (yaw.param, yaw.target, yaw.gain, yaw.min, yaw.max) == ("headYaw", "offset_x", 10, -1, 1)
    assert [t for t, _ in eye.bindings[0].sprites] == [0.5, 0.9]
    assert pack.default_variant == "plain" and set(pack.variants) == {"plain", "blue"}
    assert len(pack.content_hash) == 64 and pack.root == valid_pack


def test_parents_come_before_children(valid_pack: Path) -> None:
    # move the root layer last in the manifest: the loader still lists it first
    text = (valid_pack / "avatar.toml").read_text()
    head_start = text.index('[[layers]]\nid = "head"')
    face_start = text.index('[[layers]]\nid = "face"')
    text = text[:head_start] + text[face_start:] + "\n" + text[head_start:face_start]
    (valid_pack / "avatar.toml").write_text(text)
    ids = [la.id for la in load_pack(valid_pack).layers]
    assert ids.index("head") < ids.index("face") < ids.index("eye")


def test_variants_textures_and_tints(valid_pack: Path) -> None:
    pack = load_pack(valid_pack)
    assert pack.layer_image("face") == valid_pack / "layers/face.png"
    assert pack.layer_image("face", "blue") == valid_pack / "layers/face_blue.png"
    assert pack.layer_tint("eye", "blue") == (1.0, 0.5, 0.5, 1.0)
    blue = pack.with_variant("blue")
    assert blue.default_variant == "blue" and blue.layer_image("face").name == "face_blue.png"
    assert load_pack(valid_pack, variant="blue").default_variant == "blue"
    with pytest.raises(UnknownVariantError, match="no variant 'green'"):
        pack.with_variant("green")


def test_binding_value_clamps_then_offsets_then_gains() -> None:
    b = Binding("eyeBlinkLeft", "opacity", gain=4.0, offset=-0.8, min=0.55, max=0.8)
    assert binding_value(b, {}) == pytest.approx(-1.0)  # missing param = 0, clamped to 0.55
    assert binding_value(b, {"eyeBlinkLeft": 0.7}) == pytest.approx(-0.4)
    assert binding_value(b, {"eyeBlinkLeft": 1.0}) == pytest.approx(0.0)
    free = Binding("headYaw", "offset_x", gain=10.0)
    assert binding_value(free, {"headYaw": 3.0}) == pytest.approx(30.0)


def test_select_sprite(valid_pack: Path) -> None:
    sprite = load_pack(valid_pack).layer("eye").bindings[0]
    assert select_sprite(sprite, {"eyeBlinkLeft": 0.2}) is None
    assert select_sprite(sprite, {"eyeBlinkLeft": 0.5}).name == "eye_half.png"  # type: ignore[union-attr]
    assert select_sprite(sprite, {"eyeBlinkLeft": 1.0}).name == "eye_closed.png"  # type: ignore[union-attr]


def test_not_found_and_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(PackNotFoundError, match="not a built-in"):
        load_pack("no-such-avatar")
    assert issubclass(PackValidationError, ValueError) and issubclass(PackError, ValueError)


def test_pack_without_variants_gets_default(valid_pack: Path) -> None:
    text = (valid_pack / "avatar.toml").read_text()
    start, end = text.index("[[variants]]"), text.index("[[layers]]")
    text = text[:start] + text[end:]
    text = text.replace('default_variant = "plain"\n', "")
    (valid_pack / "avatar.toml").write_text(text)
    (valid_pack / "layers/face_blue.png").unlink()  # only the removed variant drew it
    pack = load_pack(valid_pack)
    assert list(pack.variants) == ["default"] and pack.default_variant == "default"


def test_zip_loads_like_the_directory(valid_pack: Path, tmp_path: Path) -> None:
    direct = load_pack(valid_pack)
    for top in ("", "testy/"):
        zipped = load_pack(zip_dir(valid_pack, tmp_path / f"t{len(top)}.zip", top))
        assert zipped.content_hash == direct.content_hash
        assert [la.id for la in zipped.layers] == [la.id for la in direct.layers]
        assert zipped.layers[0].image.is_file() and zipped.root != valid_pack


# -- identity --------------------------------------------------------------------------------


def test_hash_is_stable_and_content_sensitive(valid_pack: Path, tmp_path: Path) -> None:
    h1 = load_pack(valid_pack).content_hash
    copy = tmp_path / "copy"
    shutil.copytree(valid_pack, copy)
    (copy / ".DS_Store").write_bytes(b"junk")  # hidden files are not part of the pack
    assert load_pack(copy).content_hash == h1
    data = bytearray((copy / "layers/eye.png").read_bytes())
    data[-5] ^= 0x01  # one byte (inside the IEND chunk's CRC: still a PNG by signature)
    (copy / "layers/eye.png").write_bytes(bytes(data))
    assert load_pack(copy).content_hash != h1
    renamed = tmp_path / "renamed"
    shutil.copytree(valid_pack, renamed)
    (renamed / "layers/extra.txt").write_text("x")  # refused as a pack, but hashed apart
    assert content_hash(read_dir(renamed).files.items()) != h1


# -- transfer --------------------------------------------------------------------------------


def test_pack_bytes_round_trip(valid_pack: Path, tmp_path: Path) -> None:
    pack = load_pack(valid_pack)
    data = pack_bytes(pack)
    assert data == pack_bytes(load_pack(valid_pack))  # deterministic
    installed = install_pack_bytes(data, tmp_path / "cache", pack.content_hash)
    again = load_pack(installed)
    assert again.content_hash == pack.content_hash and again.id == "testy"
    # installing twice reuses the copy
    assert install_pack_bytes(data, tmp_path / "cache", pack.content_hash) == installed


def test_install_refuses_wrong_hash(valid_pack: Path, tmp_path: Path) -> None:
    data = pack_bytes(load_pack(valid_pack))
    with pytest.raises(PackIntegrityError, match="does not match the announced"):
        install_pack_bytes(data, tmp_path / "cache", "0" * 64)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_install_refuses_tampered_zip(valid_pack: Path, tmp_path: Path) -> None:
    pack = load_pack(valid_pack)
    data = bytearray(pack_bytes(pack))
    idx = data.index(b"IHDR") + 6  # inside a stored PNG: CRC or hash check must catch it
    data[idx] ^= 0xFF
    with pytest.raises(PackIntegrityError):
        install_pack_bytes(bytes(data), tmp_path / "cache", pack.content_hash)


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        ({"../evil.png": b"x"}, None, "contains '..'"),
        ({"/abs/evil.png": b"x"}, None, "is absolute"),
        ({"a\\..\\evil.png": b"x"}, None, "backslash"),
        ({"avatar.toml": b""}, "layers/link.png", "symbolic link"),
    ],
)
def test_install_refuses_escaping_zips(
    tmp_path: Path, entries: dict[str, bytes], symlink: str | None, message: str
) -> None:
    with pytest.raises(PackIntegrityError, match=message.replace("\\", "\\\\")):
        install_pack_bytes(_zip(entries, symlink), tmp_path / "cache", "0" * 64)
    assert not (tmp_path / "evil.png").exists()


def test_install_refuses_oversize(tmp_path: Path) -> None:
    # highly compressible: small zip, huge content (a zip bomb in miniature)
    bomb = _zip({"avatar.toml": b"", "big.bin": b"\0" * (MAX_PACK_BYTES + 1)})
    assert len(bomb) < MAX_PACK_BYTES
    with pytest.raises(PackIntegrityError, match="compressed|limit"):
        install_pack_bytes(bomb, tmp_path / "cache", "0" * 64)
    with pytest.raises(PackIntegrityError, match="larger than"):
        install_pack_bytes(b"\0" * (MAX_PACK_BYTES + 1), tmp_path / "cache", "0" * 64)
    # many modestly compressible files: each plausible, together over the cap
    chunk = os.urandom(2 * 1024 * 1024).translate(bytes(i & 15 for i in range(256)))
    many = _zip({"avatar.toml": b"", **{f"f{i}.bin": chunk for i in range(5)}})
    assert len(many) < MAX_PACK_BYTES
    with pytest.raises(PackIntegrityError, match="larger than the 8 MiB limit when unpacked"):
        install_pack_bytes(many, tmp_path / "cache", "0" * 64)


def test_install_refuses_hash_correct_but_invalid_pack(valid_pack: Path, tmp_path: Path) -> None:
    from avatars.source import content_hash, read_dir
    from avatars.transfer import zip_source

    (valid_pack / "layers/eye.png").unlink()
    src = read_dir(valid_pack)
    with pytest.raises(PackValidationError, match="does not exist"):
        install_pack_bytes(
            zip_source(src.files), tmp_path / "cache", content_hash(src.files.items())
        )


# -- built-ins -------------------------------------------------------------------------------


def test_builtins_exist_and_validate() -> None:
    ids = builtin_ids()
    assert {"aria", "fox", "bolt", "mochi"} <= set(ids)
    hashes = set()
    for avatar_id in ids:
        assert validate_pack(builtin_dir() / avatar_id) == [], avatar_id
        pack = load_pack(avatar_id)
        hashes.add(pack.content_hash)
        assert pack.canvas == (512, 512) and len(pack.variants) >= 2
        assert pack.preview is not None and pack.preview.is_file()
        for vid in pack.variants:
            assert pack.with_variant(vid).preview is not None
        size = sum(f.stat().st_size for f in pack.root.rglob("*") if f.is_file())
        assert size < 1024 * 1024, f"{avatar_id} is {size} bytes"
        params = {b.param for la in pack.layers for b in la.bindings}
        assert params <= PARAM_SET
        needed = {
            "headYaw",
            "headPitch",
            "headRoll",
            "eyeBlinkLeft",
            "eyeBlinkRight",
            "jawOpen",
            "smile",
            "browInnerUp",
            "browDownLeft",
            "browDownRight",
            "gazeX",
            "gazeY",
            "breath",
        }
        assert needed <= params, f"{avatar_id} lacks {needed - params}"
    assert len(hashes) == len(ids)


def test_thumbnail_without_preview_files(valid_pack: Path) -> None:
    from avatars.compose import thumbnail

    pack = load_pack(valid_pack)
    assert pack.preview is None
    plain, blue = thumbnail(pack, size=64), thumbnail(pack, "blue", size=64)
    assert plain.size == (64, 64) and plain.getpixel((32, 32)) != blue.getpixel((32, 32))


def test_find_pack_by_hash(valid_pack: Path, tmp_path: Path) -> None:
    from avatars import find_pack

    fox = load_pack("fox")
    found = find_pack(fox.content_hash)
    assert found is not None and found.id == "fox"
    pack = load_pack(valid_pack)
    cache = tmp_path / "cache"
    assert find_pack(pack.content_hash, cache) is None  # not received yet
    install_pack_bytes(pack_bytes(pack), cache, pack.content_hash)
    got = find_pack(pack.content_hash.upper(), cache)
    assert got is not None and got.id == "testy"
    assert find_pack("../../etc", cache) is None
