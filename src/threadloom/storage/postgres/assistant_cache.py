"""A per-process cache of current assistants, for creating runs without reading them first.

Every run starts from its assistant's config and context, so an API process would otherwise read
the assistant on every run create — a round trip on the hot path for a row that rarely changes.
Correctness does not rest on invalidation messages: the run insert re-checks, in its own
statement or transaction, that the cached version is still the current one (same `version` and
`updated_at`) and writes nothing otherwise (`StaleAssistant`); the caller then reads the
assistant afresh and builds the run again. A write through this process drops its entry at once.
"""

from __future__ import annotations

from collections import OrderedDict

from threadloom.storage.records import Assistant


class AssistantCache:
    """Least-recently-used current assistants by id."""

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Assistant] = OrderedDict()

    def get(self, assistant_id: str) -> Assistant | None:
        found = self._entries.get(assistant_id)
        if found is not None:
            self._entries.move_to_end(assistant_id)
        return found

    def put(self, assistant: Assistant) -> None:
        self._entries[assistant.assistant_id] = assistant
        self._entries.move_to_end(assistant.assistant_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def drop(self, assistant_id: str) -> None:
        self._entries.pop(assistant_id, None)
