"""The shapes of the built-in 3D avatar nova (used by make_avatar3d.py): head, hair, eyes,
mouth, neck and bust as numpy meshes with their ARKit morph deltas.

Every part is built from a few analytic shapes (ellipsoids, tapered locks, ribbons, discs laid
on the face) and then deformed, so normals are recomputed from the final triangles. Parts of one
material are merged into a single primitive: a draw call costs llvmpipe more than vertices do.
Head-local metres, +Y up, the face looks toward +Z, its left is +X.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from avatars.vrm import ARKIT_NAMES

F = np.float32
V = np.ndarray

# Head-local landmarks (the head node sits at the top of the neck).
HEAD_C = np.array([0.0, 0.1, 0.0], F)
HEAD_R = np.array([0.112, 0.132, 0.115], F)
EYE_Y, EYE_X, EYE_RX, EYE_RY = 0.09, 0.044, 0.022, 0.027
MOUTH_C = np.array([0.0, 0.033, 0.0], F)
MOUTH_W, MOUTH_H = 0.02, 0.003
HAIR_C = HEAD_C + np.array([0.0, 0.008, -0.006], F)
HAIR_R = HEAD_R * np.array([1.08, 1.07, 1.09], F)


def jaw_taper(y: V | float) -> V:
    """x scale of the head at height y: 1 above the cheeks, narrowing to a soft chin."""
    t = np.clip((0.085 - np.asarray(y, np.float64)) / 0.117, 0.0, 1.0)
    return np.asarray(1.0 - 0.4 * t**1.4)


def face_z(x: float, y: float, lift: float = 0.0) -> float:
    """z of the head's front surface at (x, y), plus ``lift`` toward the camera."""
    xs = x / float(jaw_taper(y))
    u = ((xs - HEAD_C[0]) / HEAD_R[0]) ** 2 + ((y - HEAD_C[1]) / HEAD_R[1]) ** 2
    return float(HEAD_C[2] + HEAD_R[2] * np.sqrt(max(0.0, 1.0 - u))) + lift


def face_normal(x: float, y: float) -> V:
    e = 1e-4
    dzx = (face_z(x + e, y) - face_z(x - e, y)) / (2 * e)
    dzy = (face_z(x, y + e) - face_z(x, y - e)) / (2 * e)
    n = np.array([-dzx, -dzy, 1.0])
    return np.asarray(n / np.linalg.norm(n))


def hair_z(x: float, y: float) -> float:
    u = ((x - HAIR_C[0]) / HAIR_R[0]) ** 2 + ((y - HAIR_C[1]) / HAIR_R[1]) ** 2
    return float(HAIR_C[2] + HAIR_R[2] * np.sqrt(max(0.0, 1.0 - u)))


class Prim:
    def __init__(self, pos: V, nrm: V, idx: V, mat: str) -> None:
        self.pos, self.nrm, self.idx, self.mat = pos.astype(F), nrm.astype(F), idx, mat
        self.deltas: dict[str, V] = {}

    def add(self, name: str, delta: V) -> None:
        assert name in ARKIT_NAMES, name
        self.deltas[name] = self.deltas.get(name, np.zeros_like(self.pos)) + delta.astype(F)


def merge(parts: list[Prim]) -> Prim:
    """One primitive (one draw call) from parts of the same material, morphs kept per vertex."""
    offs = np.cumsum([0] + [len(p.pos) for p in parts])
    out = Prim(
        np.concatenate([p.pos for p in parts]),
        np.concatenate([p.nrm for p in parts]),
        np.concatenate([p.idx.astype(np.uint32) + o for p, o in zip(parts, offs, strict=False)]),
        parts[0].mat,
    )
    for name in sorted({n for p in parts for n in p.deltas}):
        out.deltas[name] = np.concatenate(
            [p.deltas.get(name, np.zeros_like(p.pos)) for p in parts]
        ).astype(F)
    return out


def smooth_normals(pos: V, idx: V) -> V:
    """Area-weighted vertex normals, welded across seams (a deformed shape's true normals)."""
    _, weld = np.unique(np.round(pos, 6), axis=0, return_inverse=True)
    weld = weld.reshape(-1)
    t = idx.reshape(-1, 3)
    fn = np.cross(pos[t[:, 1]] - pos[t[:, 0]], pos[t[:, 2]] - pos[t[:, 0]])
    acc = np.zeros((weld.max() + 1, 3))
    for k in range(3):
        np.add.at(acc, weld[t[:, k]], fn)
    n = acc[weld]
    return np.asarray(n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12))


def sphere_grid(nlat: int, nlon: int) -> tuple[V, V]:
    """Unit sphere vertices (lat-major) and its triangles."""
    lat = np.linspace(0, np.pi, nlat + 1)
    lon = np.linspace(0, 2 * np.pi, nlon + 1)
    th, ph = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)], -1)
    w = nlon + 1
    i, j = np.meshgrid(np.arange(nlat), np.arange(nlon), indexing="ij")
    a = (i * w + j).reshape(-1)
    tris = np.stack([a, a + w, a + 1, a + 1, a + w, a + w + 1], -1).reshape(-1, 3)
    return unit.reshape(-1, 3), tris.astype(np.uint32)


def shape(pos: V, tris: V, keep: Any = None) -> tuple[V, V, V]:
    """Triangles kept by ``keep(centroids)`` (a mask), with smooth normals."""
    if keep is not None:
        tris = tris[keep(pos[tris].mean(axis=1))]
    idx = tris.reshape(-1).astype(np.uint32)
    return pos, smooth_normals(pos, idx), idx


def ellipsoid(c: V, r: V, nlat: int = 28, nlon: int = 40, keep: Any = None) -> tuple[V, V, V]:
    unit, tris = sphere_grid(nlat, nlon)
    return shape(c + unit * r, tris, keep)


def lobe(c: V, r: V, tilt: float = 0.0, tip: float = 0.25, n: tuple[int, int] = (10, 12)) -> V:
    """A hair lock: an ellipsoid narrowing to a point at its lower end, tilted about z."""
    unit, _ = sphere_grid(*n)
    taper = tip + (1 - tip) * np.sqrt((1 + unit[:, 1]) / 2)
    p = unit * r * np.stack([taper, np.ones_like(taper), taper], -1)
    ca, sa = np.cos(tilt), np.sin(tilt)
    p = np.stack([ca * p[:, 0] - sa * p[:, 1], sa * p[:, 0] + ca * p[:, 1], p[:, 2]], -1)
    return np.asarray(p + c)


def prim_of(pos: V, tris: V, mat: str) -> Prim:
    return Prim(*shape(pos, tris), mat)


def disc(
    cx: float, cy: float, rx: float, ry: float, lift: float, n: int = 24, flat: bool = False
) -> tuple[V, V, V]:
    """An ellipse on the face (normal +Z), centre vertex first: following the surface, or
    ``flat`` at the depth of its highest point (eyes: an iris sliding sideways stays in front
    of the white, and the face bulging toward the nose does not cover it)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    xs = np.concatenate([[cx], cx + rx * np.cos(ang)])
    ys = np.concatenate([[cy], cy + ry * np.sin(ang)])
    zs = np.array([face_z(x, y, lift) for x, y in zip(xs, ys, strict=True)])
    if flat:  # in front of the face over the whole eye, up to where the face meets the nose
        zs[:] = face_z(cx - np.sign(cx) * 0.034, cy, lift)
    pos = np.stack([xs, ys, zs], -1)
    nrm = np.tile([0.0, 0.0, 1.0], (n + 1, 1))
    idx = np.array([[0, 1 + k, 1 + (k + 1) % n] for k in range(n)], np.uint32).reshape(-1)
    return pos, nrm, idx


def ring_xy(p: Prim, cx: float, cy: float) -> tuple[V, V]:
    """Unit offsets of a disc's vertices from its centre (x, y in -1..1)."""
    d = p.pos[:, :2] - np.array([cx, cy])
    m = np.abs(d).max(axis=0)
    return d[:, 0] / max(m[0], 1e-9), d[:, 1] / max(m[1], 1e-9)


def strip(pts: V, half: V, z: V) -> tuple[V, V, V]:
    """A ribbon along 2D points ``pts`` (N, 2), ``half`` wide each side, at depths ``z``."""
    d = np.gradient(pts, axis=0)
    nn = np.stack([-d[:, 1], d[:, 0]], -1)
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    a, b = pts + nn * half[:, None], pts - nn * half[:, None]
    pos = np.concatenate([np.column_stack([a, z]), np.column_stack([b, z])])
    m = len(pts)
    k = np.arange(m - 1)
    tri = np.stack([k, k + m, k + 1, k + 1, k + m, k + m + 1], -1).reshape(-1, 3)
    # Facing +Z whatever way the points run.
    e1, e2 = pos[tri[:, 1]] - pos[tri[:, 0]], pos[tri[:, 2]] - pos[tri[:, 0]]
    flip = np.cross(e1, e2)[:, 2] < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return pos, np.tile([0.0, 0.0, 1.0], (2 * m, 1)), tri.reshape(-1).astype(np.uint32)


def cheek_field(x: V, y: V, sgn: int) -> V:
    return np.asarray(np.exp(-(((x - sgn * 0.062) / 0.03) ** 2 + ((y - 0.052) / 0.03) ** 2)))


def add_cheeks(p: Prim, front: V) -> None:
    x, y = p.pos[:, 0], p.pos[:, 1]
    for side, sgn in (("Left", 1), ("Right", -1)):
        cheek = cheek_field(x, y, sgn) * front
        p.add("cheekPuff", np.stack([sgn * cheek * 0.008, 0 * x, cheek * 0.005], -1))
        p.add(f"cheekSquint{side}", np.stack([0 * x, cheek * 0.004, 0 * x], -1))


def build_head() -> list[Prim]:
    """Skin: the head (jaw tapering to a chin), nose, ears and the eyelids."""
    unit, tris = sphere_grid(24, 36)
    pos = HEAD_C + unit * HEAD_R
    pos[:, 0] *= jaw_taper(pos[:, 1])
    back = np.clip(-pos[:, 2] / HEAD_R[2], 0, 1) * np.clip((0.07 - pos[:, 1]) / 0.1, 0, 1)
    pos[:, 2] *= 1 - 0.3 * back  # the back of the jaw tucks in toward the neck
    head = prim_of(pos, tris, "skin")
    x, y, z = head.pos[:, 0], head.pos[:, 1], head.pos[:, 2]
    front = np.clip(z / HEAD_R[2], 0, 1)
    chin = np.clip((MOUTH_C[1] - y) / 0.06, 0, 1) * front
    add_cheeks(head, front)
    for side, sgn in (("Left", 1), ("Right", -1)):
        sneer = np.exp(-(((x - sgn * 0.012) / 0.012) ** 2 + ((y - 0.066) / 0.012) ** 2)) * front
        head.add(f"noseSneer{side}", np.stack([0 * x, sneer * 0.004, 0 * x], -1))
    head.add("jawOpen", np.stack([0 * x, -chin * 0.02, -chin * 0.004], -1))
    head.add("jawForward", np.stack([0 * x, 0 * x, chin * 0.01], -1))
    head.add("jawLeft", np.stack([chin * 0.01, 0 * x, 0 * x], -1))
    head.add("jawRight", np.stack([-chin * 0.01, 0 * x, 0 * x], -1))
    parts = [head]
    # A small button nose: a bump on the face, lit from above so its underside shades.
    ny = 0.062
    nose = Prim(
        *ellipsoid(
            np.array([0, ny, face_z(0, ny) - 0.004], F), np.array([0.008, 0.01, 0.008], F), 8, 12
        ),
        "skin",
    )
    nx = nose.pos[:, 0]
    for side, sgn in (("Left", 1), ("Right", -1)):
        w = np.clip(sgn * nx / 0.008, 0, 1)
        nose.add(f"noseSneer{side}", np.stack([0 * nx, 0.003 * w, 0 * nx], -1))
    parts.append(nose)
    for sgn in (1, -1):
        ear = lobe(
            np.array([sgn * 0.106, 0.078, -0.008], F), np.array([0.011, 0.024, 0.015], F),
            tilt=sgn * 0.15, tip=0.6, n=(8, 10),
        )  # fmt: skip
        parts.append(prim_of(ear, sphere_grid(8, 10)[1], "skin"))
    # Upper lids: skin discs folded up to the eye's top edge at rest, unfolding over the eye.
    for side, sgn in (("Left", 1), ("Right", -1)):
        ex = sgn * EYE_X
        pos, _nrm, idx = disc(ex, EYE_Y, EYE_RX * 1.2, EYE_RY * 1.15, 0.0052)
        nrm = np.array([face_normal(px, py) for px, py in pos[:, :2]])
        top = EYE_Y + EYE_RY * 1.15
        folded = pos.copy()
        folded[:, 1] = top
        lid = Prim(folded, nrm, idx, "skin")
        drop = np.stack([0 * pos[:, 0], pos[:, 1] - top, 0 * pos[:, 0]], -1)
        lid.add(f"eyeBlink{side}", drop)
        lid.add(f"eyeSquint{side}", drop * 0.3)
        parts.append(lid)
    return [merge(parts)]


def build_hair() -> list[Prim]:
    """A cap, a fringe of locks over the forehead, side locks framing the cheeks, a bob at the
    back and one stray strand on top: one primitive, plus the fringe's shadow on the forehead."""
    parts: list[Prim] = []
    shadows: list[Prim] = []

    def keep_cap(c: V) -> V:
        rel = (c - HAIR_C) / HAIR_R
        return np.asarray((rel[:, 1] > 0.5) | ((rel[:, 2] < 0.25) & (rel[:, 1] > -0.15)) |
                          ((rel[:, 2] < -0.1) & (rel[:, 1] > -0.7)))  # fmt: skip

    parts.append(Prim(*ellipsoid(HAIR_C, HAIR_R, 18, 32, keep=keep_cap), "hair"))
    unit, tris = sphere_grid(7, 10)
    # Fringe: locks conformed to the cap's front, tips pointing down over the forehead.
    for k, lx in enumerate(np.linspace(-0.088, 0.088, 7)):
        length = 0.034 + 0.014 * (abs(lx) / 0.088) ** 2 + (0.004 if k % 2 else 0.0)
        cy = 0.216 - length
        taper = 0.22 + 0.78 * np.sqrt((1 + unit[:, 1]) / 2)
        sway = 0.3 * np.sign(lx) * (abs(lx) / 0.088)
        px = lx + unit[:, 0] * 0.02 * taper + sway * (1 - unit[:, 1]) * 0.012
        py = cy + unit[:, 1] * length
        pz = np.array([hair_z(a, b) for a, b in zip(px, py, strict=True)])
        pz = pz - 0.004 + (1 + unit[:, 2]) * 0.007 * taper
        parts.append(prim_of(np.stack([px, py, pz], -1), tris, "hair"))
        # Its shadow on the forehead: the lock's outline, lower, flat on the skin.
        sy = py - 0.008
        sz = np.array([face_z(a, b, 0.0006) for a, b in zip(px, sy, strict=True)])
        shadows.append(prim_of(np.stack([px, sy, sz], -1), tris, "neck"))
    # Side locks in front of the ears, down to the jaw, curling toward the cheeks.
    for sgn in (1, -1):
        for dx, dz, ln in ((0.0, 0.045, 0.085), (0.01, 0.015, 0.095)):
            c = np.array([sgn * (0.105 + dx), 0.075, dz], F)
            p = lobe(c, np.array([0.016, ln, 0.022], F), tilt=-sgn * 0.12, tip=0.15, n=(7, 10))
            p[:, 0] -= sgn * np.clip((0.06 - p[:, 1]) / 0.1, 0, 1) ** 2 * 0.02
            parts.append(prim_of(p, tris, "hair"))
    # The bob: volume behind the head reaching the nape, wider than the head at the bottom.
    bob_c, bob_r = np.array([0.0, 0.07, -0.03], F), np.array([0.132, 0.15, 0.115], F)
    u2, t2 = sphere_grid(12, 24)
    bob = bob_c + u2 * bob_r
    low = np.clip((0.06 - bob[:, 1]) / 0.1, 0, 1)
    bob[:, 0] *= 1 + 0.12 * low
    # Closed (the hair is single-sided: half the triangles to raster), its front pressed flat
    # inside the head so only the sides and back show.
    front = bob[:, 2] > bob_c[2]
    bob[front, 2] = bob_c[2] + (bob[front, 2] - bob_c[2]) * 0.45
    bob[:, 1] = np.maximum(bob[:, 1], -0.035)
    parts.append(Prim(*shape(bob, t2), "hair"))
    # A stray strand (ahoge) on the crown.
    strand = lobe(np.array([0.01, 0.25, 0.01], F), np.array([0.007, 0.03, 0.005], F),
                  tilt=0.5, tip=0.15, n=(6, 8))  # fmt: skip
    strand[:, 1] = 2 * 0.245 - strand[:, 1]  # point up
    parts.append(Prim(*shape(strand, sphere_grid(6, 8)[1][:, [0, 2, 1]]), "hair"))
    return [merge(parts), merge(shadows)]


def build_eyes() -> list[Prim]:
    whites, irises, darks = [], [], []
    look, vlook = 0.0065, 0.005  # the iris stays inside the white
    for side, sgn in (("Left", 1), ("Right", -1)):
        ex = sgn * EYE_X
        white = Prim(*disc(ex, EYE_Y, EYE_RX, EYE_RY, 0.001, n=28), "eyewhite")
        ux, uy = ring_xy(white, ex, EYE_Y)
        white.add(f"eyeWide{side}", np.stack([0 * ux, np.clip(uy, 0, 1) * 0.005, 0 * ux], -1))
        white.add(f"eyeSquint{side}", np.stack([0 * ux, -np.clip(uy, 0, 1) * 0.005, 0 * ux], -1))
        white.add(f"cheekSquint{side}", np.stack([0 * ux, np.clip(-uy, 0, 1) * 0.006, 0 * ux], -1))
        whites.append(white)

        def looks(p: Prim, side: str = side, sgn: int = sgn) -> Prim:
            one = np.ones(len(p.pos))
            z = 0 * one
            x, y = p.pos[:, 0], p.pos[:, 1]
            # Sliding along the face, not through it: z follows the surface.
            dz = {
                k: np.array(
                    [face_z(a + dx, b + dy) - face_z(a, b) for a, b in zip(x, y, strict=True)]
                )
                for k, dx, dy in (
                    ("o", sgn * look, 0),
                    ("i", -sgn * look, 0),
                    ("u", 0, vlook),
                    ("d", 0, -vlook),
                )
            }
            # Looking toward the avatar's own left (+X) is "out" for the left eye.
            p.add(f"eyeLookOut{side}", np.stack([sgn * look * one, z, dz["o"]], -1))
            p.add(f"eyeLookIn{side}", np.stack([-sgn * look * one, z, dz["i"]], -1))
            p.add(f"eyeLookUp{side}", np.stack([z, vlook * one, dz["u"]], -1))
            p.add(f"eyeLookDown{side}", np.stack([z, -vlook * one, dz["d"]], -1))
            return p

        iy = EYE_Y - 0.002
        irises.append(looks(Prim(*disc(ex, iy, 0.0145, 0.0185, 0.0022), "iris")))
        darks.append(looks(Prim(*disc(ex, iy, 0.0062, 0.0085, 0.003, n=16), "lash")))
        # Highlights (eye white material) up and toward the light.
        for hx, hy, hr, ln in ((-0.005, 0.007, 0.0042, 0.0038), (0.006, -0.009, 0.0022, 0.0038)):
            h = Prim(*disc(ex + hx, iy + hy, hr, hr, ln, n=10), "eyewhite")
            whites.append(looks(h))
        # Upper lash line along the eye's top edge, thicker at the outer corner; on a blink it
        # folds to a downward curve: the closed-eye line.
        a = np.linspace(0.0, np.pi, 18)
        pts = np.stack(
            [ex + sgn * 1.08 * EYE_RX * np.cos(a), EYE_Y + 1.02 * EYE_RY * np.sin(a)], -1
        )
        pts = np.vstack([[ex + sgn * EYE_RX * 1.32, EYE_Y + EYE_RY * 0.15], pts])  # the flick
        outer = np.clip(1 - np.concatenate([[0.0], a]) / np.pi, 0, 1)
        half = 0.0012 + 0.0018 * outer
        zl = np.array([face_z(px, py, 0.0066) for px, py in pts])
        lash = Prim(*strip(pts, half, zl), "lash")
        ly = lash.pos[:, 1]
        closed = EYE_Y - 0.3 * EYE_RY - 0.45 * (ly - EYE_Y)
        zero = 0 * ly
        lash.add(f"eyeBlink{side}", np.stack([zero, closed - ly, zero], -1))
        lash.add(f"eyeSquint{side}", np.stack([zero, (closed - ly) * 0.3, zero], -1))
        lash.add(
            f"eyeWide{side}", np.stack([zero, np.clip(ly - EYE_Y, 0, 1) / EYE_RY * 0.005, zero], -1)
        )
        darks.append(lash)
        # A short lower lash at the outer corner.
        b = np.linspace(-0.55 * np.pi, -0.08 * np.pi, 8)
        lpts = np.stack(
            [ex + sgn * 1.05 * EYE_RX * np.cos(b), EYE_Y + 1.04 * EYE_RY * np.sin(b)], -1
        )
        lz = np.array([face_z(px, py, 0.0066) for px, py in lpts])
        low = Prim(*strip(lpts, 0.0004 + 0.0007 * np.linspace(0, 1, 8), lz), "lash")
        low.add(f"cheekSquint{side}", np.full((len(low.pos), 3), [0.0, 0.004, 0.0]))
        darks.append(low)
        # Brow: an arched ribbon, thick at the inner end.
        t = np.linspace(0, 1, 12)
        bx = sgn * (0.024 + 0.046 * t)
        by = 0.131 + 0.008 * np.sin(np.pi * (0.2 + 0.8 * t)) - 0.004 * t
        bz = np.array([face_z(px, py, 0.0025) for px, py in zip(bx, by, strict=True)])
        brow = Prim(*strip(np.stack([bx, by], -1), 0.0032 - 0.0022 * t, bz), "lash")
        bt = np.concatenate([t, t])
        one = np.ones(len(bt))
        brow.add(f"browDown{side}", np.stack([0 * one, -0.008 * one, 0 * one], -1))
        brow.add(f"browOuterUp{side}", np.stack([0 * one, 0.01 * bt, 0 * one], -1))
        brow.add("browInnerUp", np.stack([0 * one, 0.01 * (1 - bt), 0 * one], -1))
        darks.append(brow)
    return [merge(whites), merge(irises), merge(darks)]


def mouth_morphs(p: Prim, cy: float, open_extra: float = 0.0) -> None:
    """The mouth shapes on a disc around the mouth: the opening and the lips share them."""
    mx, my = ring_xy(p, 0.0, cy)
    one, zero = np.ones(len(mx)), np.zeros(len(mx))
    lower, upper = np.clip(-my, 0, 1), np.clip(my, 0, 1)
    left, right = np.clip(mx, 0, 1), np.clip(-mx, 0, 1)

    def mv(dx: V, dy: V) -> V:
        """(dx, dy) in the face's plane. Following the surface (z) was tried: the raised corners
        then showed so much more mouth on a tracked face's constant slight smile that the jaw
        no longer stood out in a call."""
        return np.stack([dx + zero, dy + zero, zero], -1)

    p.add("jawOpen", mv(zero, -(0.028 + open_extra) * lower))
    p.add("mouthClose", mv(zero, 0.012 * lower))
    p.add("mouthFunnel", mv(-0.008 * mx, 0.01 * my))
    p.add("mouthPucker", mv(-0.011 * mx, 0.003 * my))
    p.add("mouthLeft", mv(0.01 * one, zero))
    p.add("mouthRight", mv(-0.01 * one, zero))
    p.add("mouthRollLower", mv(zero, 0.003 * lower))
    p.add("mouthRollUpper", mv(zero, -0.003 * upper))
    p.add("mouthShrugLower", mv(zero, 0.004 * one * lower + 0.002))
    p.add("mouthShrugUpper", mv(zero, 0.004 * upper))
    for side, sel in (("Left", left), ("Right", right)):
        sgn = 1 if side == "Left" else -1
        corner = sel**3
        # A smile: corners up and out, the lower lip's middle dips into a curve.
        middle = lower * (1 - np.abs(mx))
        # A curve, not a grin: a tracked face smiles a little all the time.
        p.add(f"mouthSmile{side}", mv(sgn * 0.008 * corner, 0.016 * corner - 0.004 * middle))
        p.add(f"mouthFrown{side}", mv(zero, -0.01 * corner))
        p.add(f"mouthDimple{side}", mv(sgn * 0.005 * corner, 0.002 * corner))
        p.add(f"mouthStretch{side}", mv(sgn * 0.01 * corner, -0.002 * corner))
        p.add(f"mouthPress{side}", mv(zero, -0.004 * sel * upper + 0.004 * sel * lower))
        p.add(f"mouthLowerDown{side}", mv(zero, -0.008 * sel * lower))
        p.add(f"mouthUpperUp{side}", mv(zero, 0.006 * sel * upper))


def build_mouth() -> list[Prim]:
    cy = float(MOUTH_C[1])
    mouth = Prim(*disc(0.0, cy, MOUTH_W, MOUTH_H, 0.0018, n=32), "mouth")
    mouth_morphs(mouth, cy)
    # Lips: a softer pink rim behind the opening, following the same shapes.
    lip = Prim(*disc(0.0, cy - 0.0008, MOUTH_W + 0.0025, MOUTH_H + 0.0028, 0.0011, n=32), "lip")
    mouth_morphs(lip, cy - 0.0008)
    # Upper teeth: folded under the upper lip at rest, a white band once the jaw opens.
    ty = cy + MOUTH_H * 0.5
    tx = np.linspace(-0.012, 0.012, 7)
    tz = np.array([face_z(x, ty, 0.0024) for x in tx])
    tpos, tnrm, tidx = strip(np.stack([tx, np.full(7, ty)], -1), np.zeros(7), tz)
    teeth = Prim(tpos, tnrm, tidx, "teeth")
    bottom = np.arange(len(tpos)) >= 7
    teeth.add("jawOpen", np.stack([0 * tx.repeat(2), -0.0045 * bottom, 0 * tx.repeat(2)], -1))
    # The tongue: inside the head until tongueOut, its tip at the bottom of an open mouth.
    tpos, tnrm, tidx = disc(0.0, cy - 0.006, 0.011, 0.006, -0.012, n=16)
    tongue = Prim(tpos, tnrm, tidx, "tongue")
    one = np.ones(len(tpos))
    tongue.add("tongueOut", np.stack([0 * one, -0.012 * one, 0.02 * one], -1))
    tongue.add("jawOpen", np.stack([0 * one, -0.019 * one, 0.0142 * one], -1))
    # Blush on the cheeks, riding the cheek shapes.
    blush = []
    for sgn in (1, -1):
        b = Prim(*disc(sgn * 0.064, 0.056, 0.015, 0.008, 0.0012, n=16), "blush")
        add_cheeks(b, np.ones(len(b.pos)))
        blush.append(b)
    return [lip, mouth, teeth, tongue, merge(blush)]


def build_face() -> list[Prim]:
    """The parts that carry morph targets. The hair has none and is a mesh of its own: every
    primitive of a morphing mesh is re-blended and re-uploaded each frame the weights move."""
    return build_head() + build_eyes() + build_mouth()


def build_body() -> list[Prim]:
    """Sloped shoulders and chest in a sweater (on the chest node), and a rolled collar."""
    unit, tris = sphere_grid(16, 28)
    e1, e2 = 0.25, 0.7  # a superquadric: flat-topped, roundish across

    def spow(v: V, e: float) -> V:
        return np.asarray(np.sign(v) * np.abs(v) ** e)

    lat_s = np.sqrt(unit[:, 0] ** 2 + unit[:, 2] ** 2)
    ang = np.arctan2(unit[:, 0], unit[:, 2])
    u = np.stack(
        [
            spow(lat_s, e1) * spow(np.sin(ang), e2),
            spow(unit[:, 1], e1),
            spow(lat_s, e1) * spow(np.cos(ang), e2),
        ],
        -1,
    )
    c, r = np.array([0, -0.035, -0.005], F), np.array([0.18, 0.16, 0.1], F)
    pos = c + u * r
    up = np.clip(u[:, 1], 0, 1)
    slope = np.clip((np.abs(pos[:, 0]) - 0.035) / 0.15, 0, 1) ** 1.3
    pos[:, 1] -= 0.055 * slope * up  # shoulders slope down from the neck
    pos[:, 0] *= 1 - 0.08 * np.clip(-u[:, 1], 0, 1)
    pos[:, 2] *= 1 - 0.25 * up * np.clip(np.abs(pos[:, 0]) / 0.19, 0, 1)  # round shoulders
    pos[:, 1] = np.maximum(pos[:, 1], -0.08)  # cut flat: the picture frames a head, not a torso
    torso = Prim(*shape(pos, tris), "clothes")
    # Rolled collar: a torus around the base of the neck.
    ut, vt = np.meshgrid(np.linspace(0, 2 * np.pi, 25), np.linspace(0, 2 * np.pi, 7), indexing="ij")
    cx, cz = np.sin(ut), np.cos(ut)
    pos = np.stack(
        [
            (0.062 + 0.013 * np.cos(vt)) * cx,
            0.129 + 0.002 * cz + 0.013 * np.sin(vt),
            (0.058 + 0.013 * np.cos(vt)) * cz - 0.004,
        ],
        -1,
    ).reshape(-1, 3)
    w = 7
    i, j = np.meshgrid(np.arange(24), np.arange(6), indexing="ij")
    a = (i * w + j).reshape(-1)
    ttris = np.stack([a, a + 1, a + w, a + 1, a + w + 1, a + w], -1).reshape(-1, 3)
    collar = prim_of(pos, ttris.astype(np.uint32), "collar")
    return [torso, collar]


def build_neck() -> list[Prim]:
    return [Prim(*ellipsoid(np.array([0, 0.045, -0.004], F), np.array([0.046, 0.075, 0.044], F),
                            10, 16), "neck")]  # fmt: skip
