"""Domain errors raised below the HTTP layer; the API maps each to one status code.

Services and storage raise these instead of HTTP exceptions so they stay transport-free.
"""

from __future__ import annotations


class ThreadloomError(Exception):
    """Base class: `detail` is safe to show to clients."""

    status_code = 500
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ThreadloomError):
    status_code = 404


class Forbidden(ThreadloomError):
    """An authorization handler said no (403)."""

    status_code = 403


class Rejected(ThreadloomError):
    """A custom auth handler raised `Auth.exceptions.HTTPException`: its status, detail and
    headers go to the client as given (a 401 stays a 401)."""

    def __init__(
        self, status_code: int, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.headers = headers


class Conflict(ThreadloomError):
    status_code = 409


class InvalidInput(ThreadloomError):
    """Well-formed request that asks for something impossible (400)."""

    status_code = 400


class Unprocessable(ThreadloomError):
    """Request that fails validation (422)."""

    status_code = 422


class Gone(ThreadloomError):
    status_code = 410


class Unavailable(ThreadloomError):
    """A backing service (database, broker) is unreachable right now (503)."""

    status_code = 503
