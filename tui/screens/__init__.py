"""The TUI's screens: home (set up and start a call), call, settings, avatar switcher."""
