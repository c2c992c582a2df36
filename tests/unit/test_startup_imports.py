"""A started server has not imported what only some requests need: the `mcp` SDK (~24 MB of
memory) and the `a2a-sdk` with protobuf are imported by the first MCP or A2A request
(api/mcp_methods.py, api/a2a_params.py), and browser automation never. Checked in a fresh
interpreter, since this one has imported everything the other tests touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.server import TEST_PROJECT

DEFERRED = ("mcp", "mcp_types", "a2a", "google.protobuf")
NEVER = ("playwright",)

PROBE = """
import asyncio, json, sys
from pathlib import Path

import httpx

from threadloom.app import create_app
from threadloom.graphs.project import parse_project
from threadloom.settings import Settings

config, db = Path(sys.argv[1]), Path(sys.argv[2])
watched = json.loads(sys.argv[3])


def loaded():
    return sorted(m for m in watched if m in sys.modules)


seen = {"import": loaded()}
project = parse_project({"graphs": {"echo": "./graphs.py:echo"}}, base_dir=config.parent, warn=False)
app = create_app(Settings(config=str(config), sqlite_path=db), project)
seen["create_app"] = loaded()


async def serve():
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for path in ("/ok", "/openapi.json"):
                assert (await client.get(path)).status_code == 200, path


asyncio.run(serve())
seen["served"] = loaded()
import threadloom.api.a2a_params, threadloom.api.mcp_methods  # what the first request imports
seen["first_request"] = loaded()
print(json.dumps(seen))
"""


def test_serving_imports_neither_mcp_nor_a2a(tmp_path: Path) -> None:
    watched = [*DEFERRED, *NEVER]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(TEST_PROJECT), str(tmp_path / "db"), json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["import"] == [], "import threadloom.app"
    assert seen["create_app"] == [], "create_app"
    assert seen["served"] == [], "lifespan, /ok and /openapi.json"
    # the modules the routes import on first use are the ones watched here
    assert seen["first_request"] == sorted(DEFERRED)
