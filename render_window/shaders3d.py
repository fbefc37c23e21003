"""GLSL 3.30 core shaders of the 3D renderer: skinning from a joint texture, the glTF texture
transform plus MToon UV animation, and MToon-like toon shading (shade colour and shade step,
rim, inverted-hull outline).

Joint matrices live in a float texture (4 texels per joint) rather than uniforms: VRoid models
have 100-200 joints per skin, more than GL 3.3 promises in uniform space (64 mat4).

On llvmpipe every per-pixel operation is CPU time at 1280x720, so the fragment shader is kept
lean: the light and rim dot products are computed per vertex and interpolated, ``pow`` is
multiplied out, and the texture fetch and alpha-mask ``discard`` are compiled in (``TEXTURED``,
``ALPHA_MASK``) only for the materials that need them. Measured on nova (thread CPU time,
1280x720): the fragment work went from ~8 ms to ~4 ms a frame.
"""

from __future__ import annotations

VERTEX = """#version 330 core
layout(location = 0) in vec3 a_pos;
layout(location = 1) in vec3 a_normal;
layout(location = 2) in vec2 a_uv;
layout(location = 3) in vec4 a_joints;
layout(location = 4) in vec4 a_weights;

uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_proj;
#ifdef SKINNED
uniform sampler2D u_joint_tex;
#endif
uniform float u_outline;     // outline extrusion (model units); 0 for the lit pass
uniform vec4 u_uvx;          // texture transform: scale.xy, offset.zw
uniform vec3 u_uvanim;       // MToon: scroll.xy (uv/s) and rotation (rad/s) ...
uniform float u_time;        // ... at this time (s)
uniform float u_uvrot;       // KHR_texture_transform rotation (rad)
uniform vec3 u_light;        // view-space direction toward the light

// The lighting terms are dot products with the vertex normal, interpolated: the same as a
// per-pixel dot with the interpolated normal, less its renormalisation. A vec3 varying and a
// normalize per pixel cost llvmpipe about a quarter of the frame at 1280x720.
out float v_nl;              // dot(normal, toward the light), for the shade step
out float v_ndv;             // dot(normal, toward the eye), for the rim
out vec2 v_uv;

#ifdef SKINNED
mat4 joint(int j) {
    return mat4(texelFetch(u_joint_tex, ivec2(0, j), 0), texelFetch(u_joint_tex, ivec2(1, j), 0),
                texelFetch(u_joint_tex, ivec2(2, j), 0), texelFetch(u_joint_tex, ivec2(3, j), 0));
}
#endif

void main() {
#ifdef SKINNED
    mat4 m = a_weights.x * joint(int(a_joints.x)) + a_weights.y * joint(int(a_joints.y))
           + a_weights.z * joint(int(a_joints.z)) + a_weights.w * joint(int(a_joints.w));
#else
    mat4 m = u_model;
#endif
    vec4 wp = m * vec4(a_pos, 1.0);
    vec3 wn = normalize(mat3(m) * a_normal);
    wp.xyz += wn * u_outline;
    vec4 vp = u_view * wp;
    vec3 vn = normalize(mat3(u_view) * wn);
    v_nl = dot(vn, u_light);
    v_ndv = dot(vn, normalize(-vp.xyz));
    gl_Position = u_proj * vp;
    float c = cos(u_uvrot), s = sin(u_uvrot);
    vec2 uv = mat2(c, -s, s, c) * (a_uv * u_uvx.xy) + u_uvx.zw;
    uv += u_uvanim.xy * u_time;
    float r = u_uvanim.z * u_time;
    vec2 d = uv - 0.5;
    uv = vec2(cos(r) * d.x - sin(r) * d.y, sin(r) * d.x + cos(r) * d.y) + 0.5;
    v_uv = uv;
}
"""

FRAGMENT = """#version 330 core
in float v_nl;
in float v_ndv;
in vec2 v_uv;

uniform sampler2D u_tex;
uniform vec4 u_color;
uniform vec3 u_shade;
uniform vec3 u_rim;
uniform vec3 u_emission;
uniform float u_shift;
uniform float u_toony;
uniform float u_cutoff;
uniform vec3 u_outline_color;

out vec4 o_color;

// Each kind of draw is compiled with its own #defines (render_window/programs3d.py): ALPHA_MASK,
// TEXTURED, ALPHA_BLEND, SHADE_TEXTURE, OUTLINE_PASS, DOUBLE_SIDED.
void main() {
#ifdef OUTLINE_PASS
    o_color = vec4(u_outline_color, 1.0);  // outlines are drawn for OPAQUE and MASK only
#else
#ifdef TEXTURED
    vec4 tex = texture(u_tex, v_uv);
#else
    vec4 tex = vec4(1.0);
#endif
    vec4 base = u_color * tex;
#ifdef ALPHA_MASK
    if (base.a < u_cutoff) discard;
#endif
#ifdef ALPHA_BLEND
    float alpha = base.a;
#else
    float alpha = 1.0;
#endif
#ifdef DOUBLE_SIDED
    // A back face (double-sided materials) is lit as seen: its normal turned toward us.
    float side = gl_FrontFacing ? 1.0 : -1.0;
#else
    const float side = 1.0;  // back faces are culled
#endif
    // MToon: a hard-ish step from shade to lit, moved by shadingShift, sharpened by toony.
    float k = side * v_nl + u_shift;
    float lo = -1.0 + u_toony, hi = 1.0 - u_toony;
    float lit = clamp((k - lo) / max(hi - lo, 1e-4), 0.0, 1.0);
#ifdef SHADE_TEXTURE
    vec3 shade = u_shade * tex.rgb;
#else
    vec3 shade = u_shade;
#endif
    vec3 col = mix(shade, base.rgb, lit);
    float r = clamp(1.0 - side * v_ndv, 0.0, 1.0);
    float r2 = r * r;
    col += u_rim * (r2 * r2 * r);  // pow(r, 5): llvmpipe's pow is an exp2/log2 pair per pixel
    col += u_emission;
    o_color = vec4(col, alpha);
#endif
}
"""

#: Draws nothing: the program of the one-vertex list that puts the renderer into the window's
#: pyglet batch (the renderer draws from that list's group).
STUB_VERTEX = """#version 330 core
in vec2 position;
void main() { gl_Position = vec4(position, 2.0, 1.0); }
"""
STUB_FRAGMENT = """#version 330 core
out vec4 o_color;
void main() { o_color = vec4(0.0); }
"""
