"""The thread protocol's wire: one event, two encodings (an SSE frame, a WebSocket text message).

An event is spliced from bytes the log already holds (its `params` JSON) — nothing is parsed or
re-serialised per subscriber. `event_id` is the seq as text (unique on the thread: seqs grow
across its runs), which is also the SSE `id:`; the SDK de-duplicates replays by it.
"""

from __future__ import annotations

from typing import Any

from threadloom.serde import dumps
from threadloom.services.thread_events import Lost, ProtocolEvent


def event_json(event: ProtocolEvent) -> bytes:
    seq = event.seq
    return b'{"type":"event","event_id":"%d","seq":%d,"method":"%s","params":%s}' % (
        seq,
        seq,
        event.method,
        event.params,
    )


def sse_frames(events: list[ProtocolEvent]) -> bytes:
    return b"".join(
        b'event: %s\ndata: {"type":"event","event_id":"%d","seq":%d,"method":"%s","params":%s}'
        b"\nid: %d\n\n" % (e.method, e.seq, e.seq, e.method, e.params, e.seq)
        for e in events
    )


def lost_json(lost: Lost) -> bytes:
    """What a subscriber that fell behind is told before its stream ends (the SDK surfaces an
    unsolicited `{"type": "error", "id": null}` frame as the stream's failure)."""
    return dumps(
        {
            "type": "error",
            "id": None,
            "error": "resume_gap",
            "message": lost.message,
            "since": lost.since,
            "min_available_seq": lost.next_seq,
        }
    )


def lost_frame(lost: Lost) -> bytes:
    return b"event: error\ndata: %s\n\n" % lost_json(lost)


def json_text(value: Any) -> str:
    return dumps(value).decode()
