"""Face tracking: a camera (or clip, still, synthetic source) in, parameter frames out.

Runs as its own process (``python -m tracking``; see :mod:`tracking.runner` for the control
channel) so that raw camera frames never leave it: only :class:`protocol.frame.ParamFrame`
bytes go into the shared-memory ring and only small JSON control events go to the parent.

Modules, one concept each: :mod:`.sources` and :mod:`.camera` (frame sources), :mod:`.model`
(the vendored, SHA-256-pinned MediaPipe model), :mod:`.params` and :mod:`.pose` (raw parameters,
head pose conventions), :mod:`.calibration`, :mod:`.smoothing`, :mod:`.emotion`,
:mod:`.pipeline` (the in-process :class:`~tracking.pipeline.Tracker` API), :mod:`.stats`,
:mod:`.runner` (the child loop), :mod:`.config` (XDG paths, ``$AVATARCHAT_CONFIG_DIR``).
"""
