"""`langgraph.json` `auth.path` → the project's `langgraph_sdk.auth.Auth` object."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from langgraph_sdk import Auth

from threadloom.graphs.errors import ProjectError
from threadloom.graphs.loader import display_path, load_file_module
from threadloom.graphs.project import GraphSpec, ProjectConfig

logger = logging.getLogger("threadloom")

# every (resource, action) the server asks handlers about; crons and store have no routes yet,
# but handlers for them load and resolve like the others
RESOURCE_ACTIONS: dict[str, tuple[str, ...]] = {
    "threads": ("create", "read", "update", "delete", "search", "create_run"),
    "assistants": ("create", "read", "update", "delete", "search"),
    "crons": ("create", "read", "update", "delete", "search"),
    "store": ("put", "get", "search", "delete", "list_namespaces"),
}


def load_auth(project: ProjectConfig) -> Auth | None:
    """The `Auth` instance `auth.path` names, or None without one. Raises ProjectError (the
    server does not start) when the path is wrong or the object has no authenticate handler:
    a server meant to be closed must never start open."""
    if project.auth is None or not project.auth.path:
        return None
    raw = project.auth.path
    try:
        spec = GraphSpec(path=raw)
    except ValueError as exc:
        raise ProjectError(f"auth.path {raw!r}: {exc}") from None
    try:
        if spec.is_file:
            path = spec.file_path(project.base_dir)
            if not path.is_file():
                raise ProjectError(f"auth.path {raw!r}: file not found: {display_path(str(path))}")
            module = load_file_module(Path(path))
        else:
            module = importlib.import_module(spec.target)
    except ProjectError:
        raise
    except Exception as exc:
        raise ProjectError(
            f"auth.path {raw!r}: importing it failed: {type(exc).__name__}: {exc}"
        ) from exc
    obj: object = module
    for part in spec.attr.split("."):
        if not hasattr(obj, part):
            raise ProjectError(f"auth.path {raw!r}: no variable {part!r} in {spec.target}")
        obj = getattr(obj, part)
    if not isinstance(obj, Auth):
        raise ProjectError(
            f"auth.path {raw!r}: expected a langgraph_sdk.Auth instance, got {type(obj).__name__}"
        )
    if obj._authenticate_handler is None:
        raise ProjectError(
            f"auth.path {raw!r}: the Auth object has no @auth.authenticate handler, so every "
            "request would be let in"
        )
    _warn_uncovered(obj)
    return obj


def _warn_uncovered(auth: Auth) -> None:
    """Handlers for some actions but not others: the others are allowed unfiltered (as on the
    reference), which is how one user ends up reading another's threads. Say so at start-up."""
    handlers = auth._handlers
    if auth._global_handlers or ("*", "*") in handlers or not handlers:
        return
    missing = sorted(
        f"{resource}.{action}"
        for resource, actions in RESOURCE_ACTIONS.items()
        for action in actions
        if not any(k in handlers for k in ((resource, action), (resource, "*"), ("*", action)))
    )
    if missing:
        logger.warning(
            "custom auth has no handler for %s: those requests are authenticated but not "
            "authorized (add a default-deny `@auth.on` handler to close them)",
            ", ".join(missing),
        )
