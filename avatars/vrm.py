"""VRM expressions: parsing (1.0 and 0.x), the spec's weight rules, and our 52 blendshapes.

The rules follow VRMC_vrm-1.0 ``expressions.md``:

1. Every weight is clamped to 0..1; an ``isBinary`` expression outputs 1 above 0.5, else 0.
2. Expressions with ``overrideBlink``/``overrideLookAt``/``overrideMouth`` suppress the blink
   (blink, blinkLeft, blinkRight), lookAt (lookUp/Down/Left/Right) and mouth (aa, ih, ou, ee,
   oh) groups: ``block`` sets their weight to 0 whenever the overriding weight is > 0, ``blend``
   multiplies it by (1 - overriding weight) (several overriders multiply).
3. An overridden ``isBinary`` expression is suppressed completely as soon as the effect it
   receives is > 0 (a binary expression has no "partly": the conformance model
   VRMC_vrm_expressions_isBinary_Overridden checks exactly this).
4. Binds add up linearly: morph targets ``weight * w``; material colours and texture transforms
   move from the material's own value toward the bind's by ``w``.

VRM 0.x ``blendShapeMaster`` groups are mapped onto the 1.0 preset names (joy -> happy, a -> aa,
...), their 0..100 bind weights scaled to 0..1 and their per-mesh binds expanded to the nodes
that use the mesh, so the rest of the code speaks 1.0 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.blendshapes import BLENDSHAPE_NAMES

#: The 52 ARKit blendshape names (perfect sync): our 51 wire channels (MediaPipe's, minus
#: ``_neutral``) plus ``tongueOut``, which MediaPipe does not estimate (it stays at rest).
ARKIT_NAMES: tuple[str, ...] = (
    *(n for n in BLENDSHAPE_NAMES if not n.startswith("_")),
    "tongueOut",
)

BLINK_GROUP = ("blink", "blinkLeft", "blinkRight")
LOOKAT_GROUP = ("lookUp", "lookDown", "lookLeft", "lookRight")
MOUTH_GROUP = ("aa", "ih", "ou", "ee", "oh")
PRESETS = (
    "happy", "angry", "sad", "relaxed", "surprised", *MOUTH_GROUP, *BLINK_GROUP,
    *LOOKAT_GROUP, "neutral",
)  # fmt: skip

#: VRM 0.x presetName -> 1.0 preset name.
V0_PRESETS = {
    "joy": "happy", "angry": "angry", "sorrow": "sad", "fun": "relaxed", "surprised": "surprised",
    "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh",
    "blink": "blink", "blink_l": "blinkLeft", "blink_r": "blinkRight",
    "lookup": "lookUp", "lookdown": "lookDown", "lookleft": "lookLeft",
    "lookright": "lookRight", "neutral": "neutral",
}  # fmt: skip

#: VRM 0.x MToon property -> 1.0 materialColorBind type.
V0_COLOR_PROPS = {
    "_Color": "color", "_ShadeColor": "shadeColor", "_EmissionColor": "emissionColor",
    "_RimColor": "rimColor", "_OutlineColor": "outlineColor",
}  # fmt: skip
OVERRIDES = ("none", "block", "blend")


@dataclass(frozen=True)
class MorphBind:
    node: int
    index: int
    weight: float


@dataclass(frozen=True)
class ColorBind:
    material: int
    type: str  # color, emissionColor, shadeColor, matcapColor, rimColor, outlineColor
    target: tuple[float, float, float, float]


@dataclass(frozen=True)
class TextureBind:
    material: int
    scale: tuple[float, float] = (1.0, 1.0)
    offset: tuple[float, float] = (0.0, 0.0)


@dataclass
class Expression:
    name: str
    is_binary: bool = False
    override_blink: str = "none"
    override_look_at: str = "none"
    override_mouth: str = "none"
    morph_binds: list[MorphBind] = field(default_factory=list)
    color_binds: list[ColorBind] = field(default_factory=list)
    texture_binds: list[TextureBind] = field(default_factory=list)


def _override(v: Any) -> str:
    return v if v in OVERRIDES else "none"


def _vec(v: Any, n: int, default: float) -> tuple[float, ...]:
    vals = [float(x) for x in v] if isinstance(v, list) else []
    return tuple((vals + [default] * n)[:n])


def _expr_v1(name: str, d: dict[str, Any]) -> Expression:
    return Expression(
        name=name,
        is_binary=bool(d.get("isBinary", False)),
        override_blink=_override(d.get("overrideBlink")),
        override_look_at=_override(d.get("overrideLookAt")),
        override_mouth=_override(d.get("overrideMouth")),
        morph_binds=[
            MorphBind(int(b["node"]), int(b["index"]), float(b.get("weight", 1.0)))
            for b in d.get("morphTargetBinds") or []
        ],
        color_binds=[
            ColorBind(int(b["material"]), str(b["type"]), _vec(b.get("targetValue"), 4, 1.0))  # type: ignore[arg-type]
            for b in d.get("materialColorBinds") or []
        ],
        texture_binds=[
            TextureBind(
                int(b["material"]),
                _vec(b.get("scale"), 2, 1.0),  # type: ignore[arg-type]
                _vec(b.get("offset"), 2, 0.0),  # type: ignore[arg-type]
            )
            for b in d.get("textureTransformBinds") or []
        ],
    )


def parse_expressions(
    ext: Mapping[str, Any], material_names: list[str], mesh_nodes: Mapping[int, list[int]]
) -> dict[str, Expression]:
    """Expressions of a VRM document's ``extensions`` (1.0 or 0.x), keyed by 1.0 name."""
    out: dict[str, Expression] = {}
    if "VRMC_vrm" in ext:
        ex = ext["VRMC_vrm"].get("expressions") or {}
        for kind in ("preset", "custom"):
            for name, d in (ex.get(kind) or {}).items():
                if isinstance(d, dict):
                    out[str(name)] = _expr_v1(str(name), d)
        return out
    groups = ((ext.get("VRM") or {}).get("blendShapeMaster") or {}).get("blendShapeGroups") or []
    by_name = {n: i for i, n in enumerate(material_names)}
    for g in groups:
        if not isinstance(g, dict):
            continue
        preset = str(g.get("presetName", "unknown")).lower()
        name = V0_PRESETS.get(preset) or str(g.get("name", preset))
        e = Expression(name=name, is_binary=bool(g.get("isBinary", False)))
        for b in g.get("binds") or []:
            for node in mesh_nodes.get(int(b["mesh"]), []):
                e.morph_binds.append(MorphBind(node, int(b["index"]), float(b["weight"]) / 100))
        for mv in g.get("materialValues") or []:
            mat = by_name.get(str(mv.get("materialName")))
            prop = str(mv.get("propertyName"))
            if mat is None:
                continue
            val = _vec(mv.get("targetValue"), 4, 1.0)
            if prop in V0_COLOR_PROPS:
                e.color_binds.append(ColorBind(mat, V0_COLOR_PROPS[prop], val))  # type: ignore[arg-type]
            elif prop == "_MainTex_ST":
                e.texture_binds.append(TextureBind(mat, (val[0], val[1]), (val[2], val[3])))
        out[name] = e
    return out


def effective_weights(
    exprs: Mapping[str, Expression], weights: Mapping[str, float]
) -> dict[str, float]:
    """The output weight of every expression after clamping, isBinary and overrides (rules
    1-3 in the module docstring)."""
    w: dict[str, float] = {}
    for name, e in exprs.items():
        v = min(1.0, max(0.0, float(weights.get(name, 0.0))))
        w[name] = (1.0 if v > 0.5 else 0.0) if e.is_binary else v
    mult = {"blink": 1.0, "lookAt": 1.0, "mouth": 1.0}
    for name, e in exprs.items():
        v = w[name]
        for group, mode in (
            ("blink", e.override_blink),
            ("lookAt", e.override_look_at),
            ("mouth", e.override_mouth),
        ):
            if mode == "block" and v > 0.0:
                mult[group] = 0.0
            elif mode == "blend":
                mult[group] *= 1.0 - v
    out: dict[str, float] = {}
    for name, e in exprs.items():
        kind: str | None = (
            "blink" if name in BLINK_GROUP
            else "lookAt" if name in LOOKAT_GROUP
            else "mouth" if name in MOUTH_GROUP
            else None
        )  # fmt: skip
        m = 1.0 if kind is None else mult[kind]
        if e.is_binary and m < 1.0:
            out[name] = 0.0  # rule 3: an overridden binary expression is all or nothing
        else:
            out[name] = w[name] * m
    return out


@dataclass
class BindState:
    """What the expressions do to the model this frame."""

    morph: dict[tuple[int, int], float]  # (node, target index) -> weight
    colors: dict[tuple[int, str], tuple[float, float, float, float]]  # (material, type) -> delta
    tex_scale: dict[int, tuple[float, float]]  # material -> delta to add to the base scale
    tex_offset: dict[int, tuple[float, float]]


def apply_binds(
    exprs: Mapping[str, Expression],
    out_weights: Mapping[str, float],
    base_colors: Mapping[tuple[int, str], tuple[float, float, float, float]],
    base_tex: Mapping[int, tuple[tuple[float, float], tuple[float, float]]],
) -> BindState:
    """Rule 4: sum every bind, weighted. ``base_colors``/``base_tex`` are the materials' own
    values ((scale, offset) per material) that colour and texture binds move away from."""
    st = BindState({}, {}, {}, {})
    for name, e in exprs.items():
        v = out_weights.get(name, 0.0)
        if v <= 0.0:
            continue
        for b in e.morph_binds:
            k = (b.node, b.index)
            st.morph[k] = st.morph.get(k, 0.0) + b.weight * v
        for c in e.color_binds:
            base = base_colors.get((c.material, c.type), (0.0, 0.0, 0.0, 1.0))
            prev = st.colors.get((c.material, c.type), (0.0, 0.0, 0.0, 0.0))
            st.colors[(c.material, c.type)] = tuple(  # type: ignore[assignment]
                p + (t - b0) * v for p, t, b0 in zip(prev, c.target, base, strict=True)
            )
        for t in e.texture_binds:
            (bs, bo) = base_tex.get(t.material, ((1.0, 1.0), (0.0, 0.0)))
            ps = st.tex_scale.get(t.material, (0.0, 0.0))
            po = st.tex_offset.get(t.material, (0.0, 0.0))
            st.tex_scale[t.material] = (
                ps[0] + (t.scale[0] - bs[0]) * v,
                ps[1] + (t.scale[1] - bs[1]) * v,
            )
            st.tex_offset[t.material] = (
                po[0] + (t.offset[0] - bo[0]) * v,
                po[1] + (t.offset[1] - bo[1]) * v,
            )
    return st


def _avg(p: Mapping[str, float], *names: str) -> float:
    return sum(float(p.get(n, 0.0)) for n in names) / len(names)


def presets_from_params(p: Mapping[str, float]) -> dict[str, float]:
    """Our parameter frame (52 ARKit blendshapes + derived emotions) -> VRM preset weights, for
    models without perfect sync. The documented table (render_window/README.md, "3D"):

    ===========  ==========================================================================
    blink        min(eyeBlinkLeft, eyeBlinkRight): both eyes together
    blinkLeft    eyeBlinkLeft - blink (the part only that eye closes), likewise blinkRight
    aa           jawOpen, less the rounded vowels (funnel/pucker take that opening)
    oh           mouthFunnel;  ou: mouthPucker
    ee           mean(mouthStretchLeft/Right);  ih: mean(mouthUpperUpLeft/Right)
    happy        max(emotionHappy, mean(mouthSmileLeft/Right))
    sad          max(emotionSad, mean(mouthFrownLeft/Right))
    angry        max(emotionAngry, mean(browDownLeft/Right))
    surprised    max(emotionSurprised, min(browInnerUp, mean(eyeWideLeft/Right)))
    relaxed      0 (no signal says "relaxed")
    lookUp       mean(eyeLookUpLeft/Right); lookDown likewise
    lookLeft     mean(eyeLookOutLeft, eyeLookInRight): the avatar's own left
    lookRight    mean(eyeLookInLeft, eyeLookOutRight)
    ===========  ==========================================================================
    """
    bl, br = float(p.get("eyeBlinkLeft", 0.0)), float(p.get("eyeBlinkRight", 0.0))
    both = min(bl, br)
    funnel, pucker = float(p.get("mouthFunnel", 0.0)), float(p.get("mouthPucker", 0.0))
    return {
        "blink": both,
        "blinkLeft": bl - both,
        "blinkRight": br - both,
        "aa": max(0.0, float(p.get("jawOpen", 0.0)) - funnel - pucker),
        "oh": funnel,
        "ou": pucker,
        "ee": _avg(p, "mouthStretchLeft", "mouthStretchRight"),
        "ih": _avg(p, "mouthUpperUpLeft", "mouthUpperUpRight"),
        "happy": max(
            float(p.get("emotionHappy", 0.0)), _avg(p, "mouthSmileLeft", "mouthSmileRight")
        ),
        "sad": max(float(p.get("emotionSad", 0.0)), _avg(p, "mouthFrownLeft", "mouthFrownRight")),
        "angry": max(float(p.get("emotionAngry", 0.0)), _avg(p, "browDownLeft", "browDownRight")),
        "surprised": max(
            float(p.get("emotionSurprised", 0.0)),
            min(float(p.get("browInnerUp", 0.0)), _avg(p, "eyeWideLeft", "eyeWideRight")),
        ),
        "relaxed": 0.0,
        "lookUp": _avg(p, "eyeLookUpLeft", "eyeLookUpRight"),
        "lookDown": _avg(p, "eyeLookDownLeft", "eyeLookDownRight"),
        "lookLeft": _avg(p, "eyeLookOutLeft", "eyeLookInRight"),
        "lookRight": _avg(p, "eyeLookInLeft", "eyeLookOutRight"),
    }
