"""A small custom avatar pack drawn at test time (a valid FORMAT.md pack in a temp dir).

It lets the renderer tests run against a pack whose geometry the test knows exactly, in
addition to the built-in avatars.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

CANVAS = 512
#: Where the test pack's eyes and mouth sit at rest (canvas px, y down): x0, y0, x1, y1.
EYE_VIEWER_LEFT = (170, 200, 230, 250)  # the subject's RIGHT eye
EYE_VIEWER_RIGHT = (282, 200, 342, 250)  # the subject's LEFT eye
MOUTH = (206, 320, 306, 360)

TOML = """
[pack]
format = 1
id = "testface"
name = "Test face"
version = "1.0.0"
author = "tests"
license = "CC0-1.0"
canvas = [512, 512]
default_variant = "plain"

[[variants]]
id = "plain"
name = "Plain"

[[variants]]
id = "blue"
name = "Blue"
[variants.tint]
head = [0.6, 0.7, 1.0, 1.0]

[[layers]]
id = "body"
image = "layers/body.png"
parent = ""
position = [96, 400]
pivot = [256, 460]
z = 0
  [[layers.bindings]]
  param = "breath"
  target = "offset_y"
  gain = 3.0

[[layers]]
id = "head"
image = "layers/head.png"
parent = "body"
position = [136, 110]
pivot = [256, 400]
z = 10
  [[layers.bindings]]
  param = "headYaw"
  target = "offset_x"
  gain = 120.0
  [[layers.bindings]]
  param = "headPitch"
  target = "offset_y"
  gain = 80.0
  [[layers.bindings]]
  param = "headRoll"
  target = "rotate"
  gain = 1.0

[[layers]]
id = "eye_r"
image = "layers/eye.png"
parent = "head"
position = [170, 200]
pivot = [200, 225]
z = 20
mesh = [1, 1]
  [[layers.bindings]]
  param = "eyeBlinkRight"
  target = "warp_squash"
  gain = 1.0

[[layers]]
id = "eye_l"
image = "layers/eye.png"
parent = "head"
position = [282, 200]
pivot = [312, 225]
z = 20
  [[layers.bindings]]
  param = "eyeBlinkLeft"
  target = "warp_squash"
  gain = 1.0

[[layers]]
id = "mouth"
image = "layers/mouth.png"
parent = "head"
position = [206, 320]
pivot = [256, 340]
z = 20
mesh = [8, 2]
  [[layers.bindings]]
  param = "mouthOpen"
  target = "warp_open"
  gain = 50.0
  [[layers.bindings]]
  param = "smile"
  target = "warp_smile"
  gain = 14.0
"""


def write_test_pack(root: Path) -> Path:
    """Draw the pack into ``root/testface`` and return that directory."""
    pack = root / "testface"
    layers = pack / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    (pack / "avatar.toml").write_text(TOML)

    body = Image.new("RGBA", (320, 112), (0, 0, 0, 0))
    ImageDraw.Draw(body).rounded_rectangle((0, 20, 319, 111), radius=40, fill=(60, 90, 160, 255))
    body.save(layers / "body.png")

    head = Image.new("RGBA", (240, 300), (0, 0, 0, 0))
    ImageDraw.Draw(head).ellipse((0, 0, 239, 299), fill=(236, 196, 160, 255))
    head.save(layers / "head.png")

    eye = Image.new("RGBA", (60, 50), (0, 0, 0, 0))
    d = ImageDraw.Draw(eye)
    d.ellipse((0, 0, 59, 49), fill=(255, 255, 255, 255), outline=(40, 30, 30, 255), width=3)
    d.ellipse((18, 13, 42, 37), fill=(30, 60, 120, 255))
    eye.save(layers / "eye.png")

    mouth = Image.new("RGBA", (100, 40), (0, 0, 0, 0))
    d = ImageDraw.Draw(mouth)
    d.rounded_rectangle((0, 12, 99, 27), radius=8, fill=(120, 20, 30, 255))
    mouth.save(layers / "mouth.png")
    return pack
