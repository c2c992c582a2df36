"""Loading a user's `langgraph.json` project and its graphs.

- `project`: `langgraph.json` (and the LangGraph CLI's env vars) as a typed `ProjectConfig`
- `loader`: importing one graph entry (file or module; graph, StateGraph or factory)
- `registry`: graphs by id, wired to the server's checkpointer and store per run
- `schemas`: JSON schemas and drawable structure for the assistants API
"""

from threadloom.graphs.errors import GraphLoadError, ProjectError
from threadloom.graphs.project import GraphSpec, ProjectConfig, load_project, project_from_env
from threadloom.graphs.registry import GraphRegistry, system_assistant_id

__all__ = [
    "GraphLoadError",
    "GraphRegistry",
    "GraphSpec",
    "ProjectConfig",
    "ProjectError",
    "load_project",
    "project_from_env",
    "system_assistant_id",
]
