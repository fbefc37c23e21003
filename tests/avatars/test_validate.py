"""Every broken-pack case of FORMAT.md's Limits gets its own precise message."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from avatars import PackValidationError, load_pack, validate_pack

pytestmark = pytest.mark.beside  # no process, no timing: tests/conftest.py LANE_ENV

Edit = Callable[[Path, str, str], None]


def only_problem(pack: Path, *needles: str) -> str:
    problems = validate_pack(pack)
    hits = [p for p in problems if all(n in p for n in needles)]
    assert hits, f"no problem containing {needles!r} in {problems!r}"
    with pytest.raises(PackValidationError) as err:
        load_pack(pack)
    assert hits[0] in err.value.problems
    return hits[0]


def test_valid_pack_has_no_problems(valid_pack: Path) -> None:
    assert validate_pack(valid_pack) == []


def test_missing_layer_image(valid_pack: Path) -> None:
    (valid_pack / "layers/eye.png").unlink()
    msg = only_problem(valid_pack, "'layers/eye.png' does not exist")
    assert "layers[2] 'eye'" in msg


def test_missing_sprite_and_variant_texture(valid_pack: Path) -> None:
    (valid_pack / "layers/eye_closed.png").unlink()
    (valid_pack / "layers/face_blue.png").unlink()
    only_problem(valid_pack, "sprites[1]", "'layers/eye_closed.png' does not exist")
    only_problem(valid_pack, "textures.face", "'layers/face_blue.png' does not exist")


def test_unknown_parameter(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, '"headYaw"', '"headYaww"')
    msg = only_problem(valid_pack, "unknown parameter 'headYaww'")
    assert "did you mean 'headYaw'" in msg and "layers[0] 'head' bindings[0]" in msg


def test_parent_cycle(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, 'parent = ""', 'parent = "eye"')
    msg = only_problem(valid_pack, "parent cycle")
    assert "head -> eye -> face -> head" in msg


def test_self_parent_is_a_cycle(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, 'parent = ""', 'parent = "head"')
    only_problem(valid_pack, "parent cycle: head -> head")


def test_unknown_parent(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, 'parent = "head"', 'parent = "hed"')
    only_problem(valid_pack, "layer 'face': unknown parent 'hed'", "did you mean 'head'")


def test_huge_texture(valid_pack: Path) -> None:
    Image.new("RGBA", (2049, 4), (0, 0, 0, 0)).save(valid_pack / "layers/head.png")
    only_problem(valid_pack, "'layers/head.png' is 2049x4, larger than the 2048x2048 limit")


def test_not_a_png_by_signature(valid_pack: Path) -> None:
    Image.new("RGB", (32, 32), (1, 2, 3)).save(valid_pack / "layers/face.png", format="JPEG")
    only_problem(valid_pack, "'layers/face.png' is not a PNG file (bad signature)")


def test_duplicate_layer_id(valid_pack: Path) -> None:
    text = (valid_pack / "avatar.toml").read_text()
    text += '\n[[layers]]\nid = "face"\nimage = "layers/eye.png"\n'
    (valid_pack / "avatar.toml").write_text(text)
    only_problem(valid_pack, "duplicate layer id 'face' (first used by layers[1])")


def test_unknown_target(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, '"offset_x"', '"offset_z"')
    only_problem(valid_pack, "unknown target 'offset_z'", "(targets: offset_x, offset_y")


def test_sprite_thresholds_not_ascending(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, "[[0.5, ", "[[0.95, ")
    only_problem(valid_pack, "sprite thresholds must be ascending, but 0.9 follows 0.95")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.png", "contains '..'"),
        ("/etc/passwd", "is absolute"),
        ("layers\\\\eye.png", "backslash"),
    ],
)
def test_path_escape(valid_pack: Path, edit_manifest: Edit, path: str, reason: str) -> None:
    (valid_pack.parent / "outside.png").write_bytes((valid_pack / "layers/eye.png").read_bytes())
    edit_manifest(valid_pack, '"layers/eye.png"', f'"{path}"')
    only_problem(valid_pack, reason, "paths must stay inside the pack")


def test_too_many_layers(valid_pack: Path) -> None:
    text = (valid_pack / "avatar.toml").read_text()
    for i in range(62):
        text += f'\n[[layers]]\nid = "extra{i}"\nimage = "layers/eye.png"\n'
    (valid_pack / "avatar.toml").write_text(text)
    only_problem(valid_pack, "65 layers, more than the limit of 64")


def test_oversize_pack(valid_pack: Path) -> None:
    (valid_pack / "big.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    only_problem(valid_pack, "larger than the 8 MiB limit")


def test_bad_toml_reports_the_line(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, 'name = "Testy"', 'name = = "Testy"')
    only_problem(valid_pack, "avatar.toml: invalid TOML", "line 4")


def test_unknown_and_missing_top_level_tables(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, "[pack]", "[pakc]")
    only_problem(valid_pack, "unknown top-level table 'pakc'", "did you mean 'pack'")
    only_problem(valid_pack, "missing [pack] table")


def test_missing_manifest(valid_pack: Path) -> None:
    (valid_pack / "avatar.toml").unlink()
    only_problem(valid_pack, "avatar.toml is missing")


def test_symlink_refused(valid_pack: Path) -> None:
    (valid_pack / "layers/link.png").symlink_to(valid_pack / "layers/eye.png")
    only_problem(valid_pack, "layers/link.png: symbolic links are not allowed")


def test_variant_problems(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, "eye = [1.0, 0.5, 0.5, 1.0]", "eyes = [1.0, 0.5, 0.5, 2.0]")
    edit_manifest(valid_pack, 'default_variant = "plain"', 'default_variant = "plane"')
    only_problem(valid_pack, "tint: unknown layer 'eyes'", "did you mean 'eye'")
    only_problem(valid_pack, "default_variant 'plane' is not a variant id")


def test_replacement_size_must_match(valid_pack: Path) -> None:
    Image.new("RGBA", (9, 8), (0, 0, 0, 255)).save(valid_pack / "layers/eye_half.png")
    only_problem(valid_pack, "'layers/eye_half.png' is 9x8 but the layer image is 8x8")


def test_bad_field_types(valid_pack: Path, edit_manifest: Edit) -> None:
    edit_manifest(valid_pack, "position = [16, 16]", 'position = [16, "x"]')
    edit_manifest(valid_pack, "mesh = [4, 2]", "mesh = [0, 2]")
    edit_manifest(valid_pack, "gain = 10.0", 'gain = "lots"')
    edit_manifest(valid_pack, 'id = "testy"', 'id = "Test Y"')
    only_problem(valid_pack, "position: must be a list of two numbers")
    only_problem(valid_pack, "mesh: each of [cols, rows] must be 1..64")
    only_problem(valid_pack, "gain must be a number, got 'lots'")
    only_problem(valid_pack, "id 'Test Y' must match")


def test_all_problems_reported_at_once(valid_pack: Path, edit_manifest: Edit) -> None:
    (valid_pack / "layers/eye.png").unlink()
    edit_manifest(valid_pack, '"headYaw"', '"nope"')
    edit_manifest(valid_pack, '"warp_smile"', '"warp_frown"')
    assert len(validate_pack(valid_pack)) >= 3


def test_broken_zip_is_validated_too(valid_pack: Path, tmp_path: Path) -> None:
    (valid_pack / "layers/eye.png").unlink()
    zpath = tmp_path / "broken.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(valid_pack.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(valid_pack).as_posix())
    assert any("'layers/eye.png' does not exist" in p for p in validate_pack(zpath))


def test_not_a_pack_at_all(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"hello")
    assert "not a valid zip file" in validate_pack(junk)[0]
    assert "no such pack directory or zip" in validate_pack(tmp_path / "missing")[0]


def test_corrupt_png_body(valid_pack: Path) -> None:
    data = (valid_pack / "layers/head.png").read_bytes()
    (valid_pack / "layers/head.png").write_bytes(data[:40])  # signature and IHDR, then nothing
    only_problem(valid_pack, "'layers/head.png' is not a readable PNG")


# -- unreferenced files (issue 15, defect 5) ----------------------------------------------------


def test_a_file_the_manifest_never_names_is_refused(valid_pack: Path) -> None:
    (valid_pack / "layers/junk.png").write_bytes((valid_pack / "layers/eye.png").read_bytes())
    (valid_pack / "notes.txt").write_text("padding")
    problem = only_problem(valid_pack, "not referenced by avatar.toml")
    assert problem.startswith("2 file(s)")
    assert "'layers/junk.png'" in problem and "'notes.txt'" in problem


def test_junk_padding_is_refused_in_a_received_pack_with_a_correct_hash(valid_pack: Path) -> None:
    """The attack: a hash-correct received pack padded with megabytes no layer uses."""
    from avatars import install_pack_bytes
    from avatars.source import content_hash, read_dir
    from avatars.transfer import zip_source

    files = read_dir(valid_pack).files
    files["layers/pad.bin"] = os.urandom(3 * 1024 * 1024)
    cache = valid_pack.parent / "cache"
    with pytest.raises(PackValidationError, match="'layers/pad.bin'"):
        install_pack_bytes(zip_source(files), cache, content_hash(files.items()))
    assert not cache.exists() or not any(p.name[0] != "." for p in cache.iterdir())


def test_the_unreferenced_list_is_bounded(valid_pack: Path) -> None:
    for i in range(40):
        (valid_pack / f"junk{i:02d}.bin").write_bytes(b"x")
    problem = only_problem(valid_pack, "not referenced")
    assert problem.startswith("40 file(s)") and problem.endswith("and 35 more")
    assert "junk05" not in problem and len(problem) < 400


def test_previews_of_declared_variants_are_part_of_the_pack(valid_pack: Path) -> None:
    preview = Image.new("RGBA", (16, 16), (1, 2, 3, 255))
    for name in ("preview.png", "preview-plain.png", "preview-blue.png"):
        preview.save(valid_pack / name)
    assert validate_pack(valid_pack) == []
    preview.save(valid_pack / "preview-nosuch.png")  # no such variant: nothing shows it
    only_problem(valid_pack, "not referenced", "'preview-nosuch.png'")
    (valid_pack / "preview-nosuch.png").unlink()
    (valid_pack / "preview-blue.png").write_bytes(b"junk, not a PNG")
    only_problem(valid_pack, "preview-blue.png", "not a PNG")
