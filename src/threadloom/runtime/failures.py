"""How a failed run is reported: the `error` event payload and the run's stop_reason.

Exception messages can leak secrets (URLs with tokens, stack details), so only exception types
that carry user-meaningful messages keep them; the rest become "An internal error occurred".
"""

from __future__ import annotations

from typing import Any

from langgraph.errors import (
    EmptyInputError,
    GraphBubbleUp,
    GraphRecursionError,
    InvalidUpdateError,
)

from threadloom.errors import ThreadloomError

INTERNAL_MESSAGE = "An internal error occurred"

_SAFE_TYPES: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    RuntimeError,
    RecursionError,
    TimeoutError,
    NotImplementedError,
    GraphRecursionError,
    InvalidUpdateError,
    EmptyInputError,
    GraphBubbleUp,
    ThreadloomError,
)

# top-level packages of model provider clients: an exception from them is an LLM API failure
_LLM_PACKAGES = frozenset(
    {
        "openai",
        "anthropic",
        "google",
        "groq",
        "mistralai",
        "cohere",
        "botocore",
        "boto3",
        "ollama",
        "together",
        "fireworks",
        "huggingface_hub",
        "litellm",
    }
)


def _is_http_exception(exc: BaseException) -> bool:
    return hasattr(exc, "status_code") and hasattr(exc, "detail")


def error_payload(exc: BaseException) -> dict[str, Any]:
    """`{"error": type name, "message": safe message}` — the `error` event and run.error."""
    if isinstance(exc, _SAFE_TYPES) or _is_http_exception(exc):
        message = str(getattr(exc, "detail", None) or exc)
        if isinstance(exc, KeyError) and exc.args:
            message = str(exc.args[0])
    else:
        message = INTERNAL_MESSAGE
    return {"error": type(exc).__name__, "message": message}


def is_llm_error(exc: BaseException, *, llm_failed: bool) -> bool:
    """An exception raised by a model provider client (or while an LLM call was failing)."""
    if llm_failed:
        return True
    module = type(exc).__module__ or ""
    top = module.split(".", 1)[0]
    return top in _LLM_PACKAGES or (top.startswith("langchain_") and top != "langchain_core")


def error_stop_reason(exc: BaseException, *, llm_failed: bool) -> str:
    if isinstance(exc, GraphRecursionError):
        return "max_steps"
    if is_llm_error(exc, llm_failed=llm_failed):
        return "llm_api_error"
    return "error"
