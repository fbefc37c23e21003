"""``avatarchat-tui``: the Textual app that runs a whole call.

Screens: home (name, relay, camera/clip, avatar with half-block previews; create or join a
room), call (state, path, SAS, live stats with sparklines, chat, hotkeys), settings (TOML in the
user's config dir) and a mid-call avatar switcher. The app is a front-end over :mod:`call`,
which runs the relay (when none is configured), tracking, networking and render processes and
leaves no process or shm segment behind on hang-up, Ctrl+C or a closed terminal.

Keys on the call screen: F1-F5 emotion presets (happy, sad, angry, surprised, neutral), F6 pause
tracking, F7 recalibrate, F8 self-view, F9 switch avatar, F10 hang up, F12 show/hide the invite;
Ctrl+C quits from anywhere. ``AVATARCHAT_CONFIG_DIR`` relocates settings and logs;
``AVATARCHAT_ROOM_FILE`` makes the app write the room code and join command to a file.
"""
