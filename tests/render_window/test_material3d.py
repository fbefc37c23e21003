"""The 3D shader's material uniforms (render_window/material3d.py): worked out once at load, a
VRM expression's colour and texture-transform binds applied exactly as the shader needs them,
and only to the material they name."""

from __future__ import annotations

import numpy as np

from avatars.model3d import Material
from avatars.vrm import BindState
from render_window.material3d import DEFAULT, MaterialUniforms


def _material(name: str, **kw: object) -> Material:
    fields: dict[str, object] = {
        "name": name,
        "base_color": np.array([0.8, 0.5, 0.25, 1.0], np.float32),
        "texture": None,
        "tex_offset": np.array([0.0, 0.0], np.float32),
        "tex_scale": np.array([1.0, 1.0], np.float32),
        "tex_rotation": 0.0,
        "alpha_mode": "MASK",
        "alpha_cutoff": 0.5,
        "double_sided": False,
        "shade_color": np.array([0.3, 0.2, 0.1], np.float32),
    }
    fields.update(kw)
    return Material(**fields)  # type: ignore[arg-type]


def _binds(**kw: object) -> BindState:
    fields: dict[str, object] = {"morph": {}, "colors": {}, "tex_scale": {}, "tex_offset": {}}
    fields.update(kw)
    return BindState(**fields)  # type: ignore[arg-type]


def test_rest_values_are_the_materials_own() -> None:
    u = MaterialUniforms([_material("skin", rim_color=np.array([0.1, 0.2, 0.3], np.float32))])
    got = dict(u.pairs(0, _binds()))
    assert got["u_color"] == (0.800000011920929, 0.5, 0.25, 1.0)
    assert got["u_shade"] == (0.30000001192092896, 0.20000000298023224, 0.10000000149011612)
    assert got["u_rim"] == (0.10000000149011612, 0.20000000298023224, 0.30000001192092896)
    # The alpha mode is the program's kind (programs3d.Variant), not a uniform: its cutoff is.
    assert got["u_cutoff"] == (0.5,) and "u_alpha_mode" not in got
    assert got["u_uvx"] == (1.0, 1.0, 0.0, 0.0)


def test_a_colour_bind_adds_clamped_and_touches_only_its_material() -> None:
    u = MaterialUniforms([_material("a"), _material("b")])
    binds = _binds(
        colors={(1, "color"): (0.5, -0.7, 0.0, 0.0), (1, "emissionColor"): (0.2, 0.0, 0.0, 0.0)},
        tex_offset={1: (0.25, 0.0)},
    )
    b = dict(u.pairs(1, binds))
    assert b["u_color"] == (1.0, 0.0, 0.25, 1.0)  # 0.8 + 0.5 clamped to 1, 0.5 - 0.7 to 0
    assert b["u_emission"] == (0.2, 0.0, 0.0)
    assert b["u_uvx"] == (1.0, 1.0, 0.25, 0.0)
    a = dict(u.pairs(0, binds))
    assert a["u_color"] == (0.800000011920929, 0.5, 0.25, 1.0)
    assert a["u_uvx"] == (1.0, 1.0, 0.0, 0.0)
    # The bind is gone the next frame: back to the rest values.
    assert dict(u.pairs(1, _binds()))["u_color"] == (0.800000011920929, 0.5, 0.25, 1.0)


def test_no_material_draws_plain_white() -> None:
    u = MaterialUniforms([_material("a")])
    assert u.pairs(-1, _binds()) is DEFAULT
    assert u.pairs(7, _binds()) is DEFAULT
    assert dict(DEFAULT)["u_color"] == (1.0, 1.0, 1.0, 1.0)
