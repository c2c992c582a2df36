"""Long-term memory on the example server, through the official SDK: tell the `memory` graph a
fact in one thread, ask for it in another, then find it over the Store API by meaning.

    make dev                              # terminal 1: the example server on :2025
    uv run python examples/memory/demo.py # terminal 2 (--url for another server)
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from langgraph_sdk import get_client


async def demo(client: Any, graph: str = "memory", user: str | None = None) -> list[str]:
    """The conversation and what the store holds, as printed lines."""
    config = {"configurable": {"user_id": user or f"demo-{uuid.uuid4().hex[:6]}"}}
    lines: list[str] = []

    async def say(text: str) -> None:
        thread = await client.threads.create()  # a new conversation every time
        out = await client.runs.wait(
            thread["thread_id"],
            graph,
            input={"messages": [{"role": "user", "content": text}]},
            config=config,
        )
        lines.append(f"user: {text}\nagent: {out['messages'][-1]['content']}")

    await say("I live in Lisbon")
    await say("My dog is called Rex")
    await say("Where do I live?")
    namespace = ["memories", config["configurable"]["user_id"]]
    found = await client.store.search_items(namespace, query="home town", limit=2)
    for item in found["items"]:
        lines.append(f"store: {item['value']['text']!r} (score {item['score']:.2f})")
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:2025")
    client = get_client(url=parser.parse_args().url)
    for line in await demo(client):
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
