"""A scripted chat model: behaves like a real tool-calling LLM, needs no network or API key.

It decides what to say from the conversation alone, so every run is reproducible:

- the last message is a tool result  -> a final answer built from the results
- "2 + 3 * 4", "what is 12 / 4"      -> a `calculator` tool call
- "weather" (optionally "in <City>")  -> a `get_weather` tool call
- "send" / "email"                    -> a `send_email` tool call (the graph asks a human first)
- anything else                       -> a plain reply

Replies stream word by word as `AIMessageChunk`s and report `usage_metadata`, like a hosted model.
Tool calls are only made for tools bound with `bind_tools`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

MATH = re.compile(r"-?\d+(?:\.\d+)?(?:\s*[-+*/%^]\s*\(?\s*-?\d+(?:\.\d+)?\s*\)?)+")
CITY = re.compile(r"\b(?:in|at|for)\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
TOKEN = re.compile(r"\S+\s*|\s+")


class ScriptedChatModel(BaseChatModel):
    """A deterministic stand-in for a chat model (see the module docstring for the script)."""

    model_name: str = "scripted-chat-model"
    token_delay: float = 0.0
    """Seconds to wait between streamed tokens, to make streaming visible in a UI."""

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Any | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Remember the tools' schemas; the script only calls tools it was given."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    # --- the script ----------------------------------------------------------------------

    def reply(
        self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] = ()
    ) -> AIMessage:
        """What the model says next: text and/or tool calls (no usage yet)."""
        available = {t["function"]["name"] for t in tools if "function" in t}
        last = messages[-1] if messages else HumanMessage("")
        if isinstance(last, ToolMessage):
            return AIMessage(content=final_answer(messages))

        text = last.text
        lowered = text.lower()
        calls: list[ToolCall] = []
        if "calculator" in available and (match := MATH.search(text)):
            calls.append(
                tool_call(messages, calls, "calculator", {"expression": match.group(0).strip()})
            )
        if "get_weather" in available and "weather" in lowered:
            city = m.group(1) if (m := CITY.search(text)) else "Paris"
            calls.append(tool_call(messages, calls, "get_weather", {"city": city}))
        if "send_email" in available and re.search(r"\b(send|email|mail)\b", lowered):
            to = m.group(0) if (m := EMAIL.search(text)) else "team@example.com"
            calls.append(tool_call(messages, calls, "send_email", {"to": to, "body": text}))
        if calls:
            return AIMessage(content="", tool_calls=calls)
        if re.search(r"\b(hi|hello|hey)\b", lowered):
            return AIMessage(
                content="Hello! I can do arithmetic, look up the weather, or send an email "
                "(after you approve it). What would you like?"
            )
        return AIMessage(
            content=f'You said: "{text}". Try "what is 6 * 7", "weather in Oslo" '
            'or "send an email to bob@example.com".'
        )

    def _respond(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        message = self.reply(messages, kwargs.get("tools") or ())
        text = message.text
        message.usage_metadata = usage(messages, len(tokenize(text)), len(message.tool_calls))
        message.response_metadata = {
            "model_name": self.model_name,
            "finish_reason": "tool_calls" if message.tool_calls else "stop",
        }
        return message

    # --- BaseChatModel hooks -------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._respond(messages, **kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for index, chunk in enumerate(chunks(self._respond(messages, **kwargs))):
            if index and self.token_delay:
                time.sleep(self.token_delay)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for index, chunk in enumerate(chunks(self._respond(messages, **kwargs))):
            if index and self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield chunk


# --- helpers ------------------------------------------------------------------------------


def chunks(message: AIMessage) -> Iterator[ChatGenerationChunk]:
    """One chunk per word; the last carries the tool calls, usage and finish reason."""
    tokens = tokenize(message.text)
    for token in tokens:
        yield ChatGenerationChunk(message=AIMessageChunk(content=token))
    yield ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            tool_call_chunks=[
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": i,
                    "type": "tool_call_chunk",
                }
                for i, call in enumerate(message.tool_calls)
            ],
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
    )


def final_answer(messages: Sequence[BaseMessage]) -> str:
    """Summarise the tool results that follow the last tool-calling message."""
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, message)
    lines = []
    for result in results:
        if result.status == "error":
            lines.append(f"I did not run {result.name or 'the tool'}: {result.text}")
        elif result.name == "calculator":
            lines.append(f"The answer is {result.text}.")
        elif result.name == "get_weather":
            lines.append(f"The weather: {result.text}.")
        else:
            lines.append(f"Done: {result.text}.")
    return " ".join(lines) or "Done."


def tool_call(
    messages: Sequence[BaseMessage], earlier: Sequence[ToolCall], name: str, args: dict[str, Any]
) -> ToolCall:
    """Ids derive from the position in the conversation: unique per thread, and reproducible."""
    return ToolCall(
        name=name, args=args, id=f"call_{len(messages)}_{len(earlier)}", type="tool_call"
    )


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


def usage(messages: Sequence[BaseMessage], output_tokens: int, n_calls: int) -> UsageMetadata:
    """Word counts stand in for tokens: deterministic and good enough to test accounting."""
    input_tokens = sum(len(tokenize(m.text)) + 3 for m in messages)
    output = output_tokens + 8 * n_calls
    return UsageMetadata(
        input_tokens=input_tokens, output_tokens=output, total_tokens=input_tokens + output
    )
