"""The render window: pyglet OpenGL 3.3 avatar renderer with smooth motion and idle life.

Importing the package turns off pyglet's hidden shadow window: it would open the display (and a
GL context) on the first ``pyglet.gl`` import, which breaks importing renderers headless (plug-in
discovery, unit tests) and buys nothing for a single-window process.
"""

import pyglet

pyglet.options["shadow_window"] = False
