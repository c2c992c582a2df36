"""`auth.openapi`: the security schemes a project declares, in `/openapi.json`.

As the reference reads it: `securitySchemes` (or `security_schemes`) become
`components.securitySchemes`, `security` the document's default requirement, and
`paths: {path: {method: security}}` override it per operation.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from threadloom.graphs.project import ProjectConfig

logger = logging.getLogger("threadloom")


def apply_security(document: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """`document` with the schemes and requirements of `config` (`auth.openapi`) in it."""
    schemes = config.get("securitySchemes", config.get("security_schemes"))
    if isinstance(schemes, dict):
        document.setdefault("components", {})["securitySchemes"] = schemes
    if "security" in config:
        document["security"] = config["security"]
    paths = config.get("paths")
    if isinstance(paths, dict):
        for path, methods in paths.items():
            operations = document.get("paths", {}).get(path)
            if not isinstance(operations, dict) or not isinstance(methods, dict):
                continue
            for method, security in methods.items():
                operation = operations.get(str(method).lower())
                if isinstance(operation, dict):
                    operation["security"] = security
    return document


def install_security_schemes(app: FastAPI, project: ProjectConfig) -> None:
    """Make the app's OpenAPI document carry `auth.openapi` (built once, then cached)."""
    config = project.auth.openapi if project.auth is not None else None
    if not config:
        logger.warning(
            "custom auth is on but auth.openapi is not set: /openapi.json will not say how to "
            "authenticate"
        )
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = apply_security(build(), dict(config))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
