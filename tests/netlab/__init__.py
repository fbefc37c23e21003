"""Tests of the network lab (the ``netlab`` package) and its WebRTC helper ``dc_peer.py``."""
