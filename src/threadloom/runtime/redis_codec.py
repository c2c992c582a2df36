"""How the Redis broker lays out what it stores: packed stream entries, notices, write cursors.

A stream entry packs consecutive events as `(len(event), len(data), event, data)*` in one bulk
string (field `p`, with the first event's seq in `s`); a thread notice travels on pub/sub as
`kind \\n run_id \\n data`.
"""

from __future__ import annotations

import struct
from typing import Any, cast

from threadloom.runtime.broker import StreamEvent, ThreadNotice

HEADER = struct.Struct(">II")


def seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-", 1)[0])


def pack_events(events: list[tuple[int, str, bytes]]) -> bytes:
    """Consecutive events as `(len(event), len(data), event, data)*`: one entry, one bulk string."""
    parts: list[bytes] = []
    for _seq, event, data in events:
        name = event.encode()
        parts.append(HEADER.pack(len(name), len(data)))
        parts.append(name)
        parts.append(data)
    return b"".join(parts)


def unpack_events(first_seq: int, packed: bytes, after: int, out: list[StreamEvent]) -> None:
    """Append the events of one entry with seq > `after` to `out`."""
    view = memoryview(packed)
    offset, seq, size = 0, first_seq, len(packed)
    while offset < size:
        name_len, data_len = HEADER.unpack_from(view, offset)
        offset += 8
        if seq > after:
            name = bytes(view[offset : offset + name_len]).decode()
            out.append(
                StreamEvent(
                    seq, name, bytes(view[offset + name_len : offset + name_len + data_len])
                )
            )
        offset += name_len + data_len
        seq += 1


def encode_notice(notice: ThreadNotice) -> bytes:
    """`kind \\n run_id \\n data`: keeps the payload bytes exactly as published."""
    return b"\n".join((notice.kind.encode(), (notice.run_id or "").encode(), notice.data))


def decode_notice(raw: bytes) -> ThreadNotice:
    kind, run_id, data = raw.split(b"\n", 2)
    return ThreadNotice(kind=cast(Any, kind.decode()), run_id=run_id.decode() or None, data=data)


class RunLog:
    """This process's write cursor for one run's stream, and the outcome so far."""

    __slots__ = ("error", "seq", "values")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.values: bytes | None = None
        self.error: bytes | None = None

    def outcome_fields(self) -> dict[bytes, bytes]:
        fields = {b"n": b"1" if self.seq else b"0"}
        if self.values is not None:
            fields[b"v"] = self.values
        if self.error is not None:
            fields[b"e"] = self.error
        return fields
