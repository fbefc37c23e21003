"""One running call: the single owner of its child processes, rings, routing and local relay.

``tui/`` and ``cli/`` are front-ends over this package; they never import the process packages
(``tracking``, ``peer``, ``render_window``, ``relay``) themselves.
"""
