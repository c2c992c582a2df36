"""The agent's tools. All local and deterministic: no network, no side effects."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from langchain_core.tools import tool

_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitXor: operator.pow,  # people write 2^3 and mean a power
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "2 + 3 * (4 - 1)"."""

    def evaluate(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](evaluate(node.operand))
        raise ValueError(f"unsupported expression: {expression!r}")

    try:
        result = evaluate(ast.parse(expression, mode="eval").body)
    except ZeroDivisionError:
        return "undefined (division by zero)"
    return str(int(result) if float(result).is_integer() else round(result, 6))


_FORECASTS = ["sunny", "cloudy", "light rain", "windy", "snowy", "foggy"]


@tool
def get_weather(city: str) -> str:
    """Look up today's weather for a city (from a local, made-up table)."""
    seed = sum(ord(c) for c in city.lower())
    return f"{_FORECASTS[seed % len(_FORECASTS)]}, {seed % 30 - 5}°C in {city}"


@tool
def send_email(to: str, body: str) -> str:
    """Send an email. Sensitive: the graph asks a human to approve every call first."""
    return f"email to {to} sent ({len(body)} characters)"


TOOLS = [calculator, get_weather, send_email]
SENSITIVE_TOOLS = {"send_email"}
