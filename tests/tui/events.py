"""Posting call events to the call screen the way :class:`call.Call` delivers them.

Tests describe an event as the flat line a person reads (``event="status", child="peer",
state=...``); :func:`post` turns it into the typed event (validated by the same parser a real
child's line goes through) and posts it as :class:`CallScreen.ChildEvent`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from call import CallEvent, ChildFailed
from call.events import LIFECYCLE_NAMES
from protocol.events import parse_event
from tui.screens.call import CallScreen

#: The call's own events by their record names (call.as_record's, read backwards); "error"
#: is a child's event unless it says it came from the supervisor (see typed()).
LIFECYCLE: dict[str, Any] = {
    name: cls for cls, name in LIFECYCLE_NAMES.items() if cls is not ChildFailed
}


def typed(event: str, **fields: Any) -> CallEvent:
    if event == "relay_started":
        fields.setdefault("port", urlsplit(fields["share_url"]).port or 0)
    if event in LIFECYCLE:
        return LIFECYCLE[event](**fields)  # type: ignore[no-any-return]
    if event == "error" and fields.pop("supervisor", False):
        return ChildFailed(message=fields["message"], fatal=bool(fields.get("fatal")))
    if event == "stats":
        fields = {"t": fields.pop("t", 0.0), "values": fields}
    elif event == "ready":
        fields = {"info": fields}
    return parse_event(json.dumps({"event": event, **fields}))


def post(screen: CallScreen, *, child: str, event: str, **fields: Any) -> None:
    screen.post_message(CallScreen.ChildEvent(child, typed(event, **fields)))
