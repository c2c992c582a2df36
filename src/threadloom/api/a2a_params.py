"""A send's params checked by the `a2a-sdk`'s own models: protobuf's `SendMessageRequest` for
A2A 1.0, pydantic's `MessageSendParams` for 0.3 (api/a2a.py has done the checks that need no
SDK). api/a2a.py imports this module on the first send, so the SDK and protobuf are loaded only
by a server that A2A clients send to.
"""

from __future__ import annotations

from typing import Any

from a2a.compat.v0_3 import types as types_v03
from a2a.types import a2a_pb2
from google.protobuf import json_format
from pydantic import ValidationError

from threadloom.services import a2a_parts
from threadloom.services.a2a_parts import A2AError


def check_send(params: dict[str, Any], legacy_names: bool) -> None:
    """A2AError (invalid params, the SDK's reason) unless the send's model takes `params`."""
    try:
        if legacy_names:
            types_v03.MessageSendParams.model_validate(params)
        else:
            json_format.ParseDict(params, a2a_pb2.SendMessageRequest(), ignore_unknown_fields=True)
    except (ValidationError, json_format.ParseError) as exc:
        raise A2AError(a2a_parts.INVALID_PARAMS, f"Invalid params: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
    return str(exc).splitlines()[0]
