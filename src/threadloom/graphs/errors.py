"""Errors raised while reading a project or importing its graphs.

Both carry a one-line `detail` meant for a terminal: what went wrong and where, no traceback wall.
"""

from __future__ import annotations

from threadloom.errors import ThreadloomError


class ProjectError(ThreadloomError):
    """`langgraph.json` (or the LANGGRAPH_* env vars) is missing, unreadable or invalid."""

    status_code = 500


class GraphLoadError(ThreadloomError):
    """A graph entry could not be imported or did not produce a graph.

    `filename`/`lineno` point at the user's code when the failure happened there.
    """

    status_code = 500

    def __init__(
        self,
        detail: str,
        *,
        graph_id: str | None = None,
        filename: str | None = None,
        lineno: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.graph_id = graph_id
        self.filename = filename
        self.lineno = lineno
