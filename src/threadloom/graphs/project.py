"""`langgraph.json` as a typed `ProjectConfig`.

The file format is the LangGraph CLI's (`langgraph_cli/schemas.py`, MIT): a project that runs under
`langgraph dev` must run here unchanged. Keys we do not use yet are still parsed and validated so a
typo fails at startup rather than silently; keys we do not know are logged, never fatal, because the
CLI keeps adding them. The CLI also hands the same content to servers as JSON env vars
(`LANGSERVE_GRAPHS`, `LANGGRAPH_STORE`, ...); `project_from_env` honours those.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from threadloom.graphs.errors import ProjectError

logger = logging.getLogger("threadloom")

IGNORED_KEYS = frozenset({"$schema", "_INTERNAL_docker_tag"})
"""Top-level keys that are known but mean nothing to a running server (no warning)."""

JS_SUFFIXES = (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", ".tsx", ".jsx")


class _Section(BaseModel):
    """Base for nested sections: tolerate (and later warn about) keys newer CLIs may add."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- graphs ---------------------------------------------------------------------------------


class GraphSpec(BaseModel):
    """One `graphs` entry: `"./file.py:attr"`, `"pkg.module:attr"` or `{path, description}`."""

    model_config = ConfigDict(frozen=True)

    path: str
    description: str | None = None

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        value = value.strip()
        target, sep, attr = value.rpartition(":")
        if not sep or not target or not attr:
            raise ValueError(
                f"{value!r} must look like './path/to/file.py:variable' or 'package.module:variable'"
            )
        if target.endswith(JS_SUFFIXES):
            raise ValueError(
                f"{value!r} is a JavaScript graph; Threadloom serves Python graphs only"
            )
        if not attr.replace(".", "_").isidentifier():
            raise ValueError(f"{value!r}: {attr!r} is not a Python attribute name")
        return value

    @property
    def target(self) -> str:
        """The file path or module name before the colon."""
        return self.path.rpartition(":")[0]

    @property
    def attr(self) -> str:
        """The variable (possibly dotted) after the colon."""
        return self.path.rpartition(":")[2]

    @property
    def is_file(self) -> bool:
        """File paths end in .py or contain a separator; anything else is a dotted module path."""
        t = self.target
        return t.endswith(".py") or "/" in t or "\\" in t or t.startswith(".")

    def file_path(self, base_dir: Path) -> Path:
        """Absolute path of a file entry, resolved against the config file's directory."""
        p = Path(self.target).expanduser()
        return p if p.is_absolute() else (base_dir / p).resolve()


# --- store / checkpointer ---------------------------------------------------------------------


class IndexConfig(_Section):
    dims: int = Field(gt=0)
    embed: str
    fields: list[str] | None = None


class StoreTTLConfig(_Section):
    refresh_on_read: bool = True
    default_ttl: float | None = Field(default=None, gt=0, description="minutes")
    sweep_interval_minutes: int | None = Field(default=None, gt=0)


class StoreConfig(_Section):
    path: str | None = None
    index: IndexConfig | None = None
    ttl: StoreTTLConfig | None = None


class ThreadTTLConfig(_Section):
    strategy: Literal["delete", "keep_latest"] = "delete"
    default_ttl: float | None = Field(default=None, gt=0, description="minutes")
    # minutes; fractions are accepted, as the LangGraph server's own parser does
    sweep_interval_minutes: float | None = Field(default=None, gt=0)
    sweep_limit: int | None = Field(default=None, gt=0)


class SerdeConfig(_Section):
    allowed_json_modules: list[list[str]] | bool | None = None
    allowed_msgpack_modules: list[list[str]] | bool | None = True
    pickle_fallback: bool = True


class CheckpointerConfig(_Section):
    backend: str | None = None
    path: str | None = None
    uri: str | None = None
    ttl: ThreadTTLConfig | None = None
    serde: SerdeConfig | None = None


# --- auth / encryption / priority ------------------------------------------------------------


class AuthCacheConfig(_Section):
    cache_keys: list[str] = Field(default_factory=list)
    ttl_seconds: int | None = Field(default=None, ge=0)
    max_size: int | None = Field(default=None, gt=0)


class AuthConfig(_Section):
    path: str | None = None
    disable_studio_auth: bool = False
    allow_langsmith_api_keys: bool = False
    openapi: dict[str, Any] | None = None
    cache: AuthCacheConfig | None = None


class PathConfig(_Section):
    """`encryption` and `priority`: a Python object given by `path`."""

    path: str


# --- http / webhooks ------------------------------------------------------------------------


class CorsConfig(_Section):
    allow_origins: list[str] | None = None
    allow_methods: list[str] | None = None
    allow_headers: list[str] | None = None
    allow_credentials: bool | None = None
    allow_origin_regex: str | None = None
    expose_headers: list[str] | None = None
    max_age: int | None = None


class HeaderFilterConfig(_Section):
    includes: list[str] | None = None
    excludes: list[str] | None = None
    include: list[str] | None = None  # aliases the reference accepts too
    exclude: list[str] | None = None


class HttpConfig(_Section):
    app: str | None = None
    disable_assistants: bool = False
    disable_threads: bool = False
    disable_runs: bool = False
    disable_store: bool = False
    disable_meta: bool = False
    disable_webhooks: bool = False
    disable_ui: bool = False
    disable_mcp: bool = False
    disable_a2a: bool = False
    disable_event_streaming: bool = False
    cors: CorsConfig | None = None
    configurable_headers: HeaderFilterConfig | None = None
    logging_headers: HeaderFilterConfig | None = None
    middleware_order: Literal["auth_first", "middleware_first"] | None = None
    enable_custom_route_auth: bool = False
    mount_prefix: str | None = None

    @field_validator("mount_prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("must start with '/' and not end with '/' (e.g. '/api')")
        return value


class WebhookUrlPolicy(_Section):
    require_https: bool = False
    allowed_domains: list[str] | None = None
    allowed_ports: list[int] | None = None
    max_url_length: int = Field(default=2048, gt=0)
    disable_loopback: bool = True
    disable_private_ips: bool | None = None


class WebhooksConfig(_Section):
    env_prefix: str = "LG_WEBHOOK_"
    url: WebhookUrlPolicy | None = None
    headers: dict[str, str] | None = None
    allowed_fields: list[str] | None = None


# --- the project ----------------------------------------------------------------------------


class ProjectConfig(BaseModel):
    """Everything `langgraph.json` says, with paths anchored at the config file's directory."""

    model_config = ConfigDict(extra="allow")

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    config_path: Path | None = Field(default=None, exclude=True)

    graphs: dict[str, GraphSpec] = Field(default_factory=dict)
    env: dict[str, str] | str | None = None
    dependencies: list[str] = Field(default_factory=list)

    store: StoreConfig | None = None
    checkpointer: CheckpointerConfig | None = None
    auth: AuthConfig | None = None
    encryption: PathConfig | None = None
    priority: PathConfig | None = None
    http: HttpConfig | None = None
    webhooks: WebhooksConfig | None = None
    ui: dict[str, str] | None = None
    ui_config: dict[str, Any] | None = None
    disable_persistence: bool = False

    # build-time keys: parsed for validation, unused by a running server
    python_version: str | None = None
    node_version: str | None = None
    api_version: str | None = None
    base_image: str | None = None
    image_distro: Literal["debian", "wolfi", "bookworm"] | None = None
    pip_config_file: str | None = None
    pip_installer: Literal["auto", "pip", "uv"] | None = None
    dockerfile_lines: list[str] = Field(default_factory=list)
    keep_pkg_tools: bool | list[str] | None = None

    @field_validator("graphs", mode="before")
    @classmethod
    def _graph_entries(cls, value: Any) -> Any:
        """Accept the string shorthand for each entry."""
        if isinstance(value, Mapping):
            return {k: {"path": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env_values(cls, value: Any) -> Any:
        """Numbers and booleans in an env dict become the strings os.environ needs."""
        if isinstance(value, Mapping):
            return {
                str(k): (json.dumps(v) if isinstance(v, bool) else str(v))
                for k, v in value.items()
                if v is not None
            }
        return value

    # --- derived --------------------------------------------------------------------------

    def raw_content(self) -> dict[str, Any]:
        """The content as given, so env overrides can be merged in and re-validated."""
        return self._raw

    def env_values(self) -> dict[str, str]:
        """The `env` section as a dict, reading the .env file when `env` is a path."""
        if self.env is None:
            return {}
        if isinstance(self.env, dict):
            return dict(self.env)
        from threadloom.graphs.env_file import read_env_file

        env_path = Path(self.env).expanduser()
        if not env_path.is_absolute():
            env_path = self.base_dir / env_path
        return read_env_file(env_path, self._where())

    def apply_env(self) -> dict[str, str]:
        """Load `env` into os.environ; values already set win (as with the LangGraph CLI).

        Returns the variables actually set.
        """
        applied: dict[str, str] = {}
        for key, value in self.env_values().items():
            if key not in os.environ:
                os.environ[key] = value
                applied[key] = value
        return applied

    def dependency_dirs(self) -> list[Path]:
        """Local dependency folders; PyPI/git requirements are the installer's business."""
        dirs: list[Path] = []
        for dep in self.dependencies:
            if not _looks_local(dep):
                continue
            path = Path(dep).expanduser()
            path = path if path.is_absolute() else (self.base_dir / path)
            dirs.append(path.resolve())
        return dirs

    def apply_dependencies(self) -> list[Path]:
        """Put local dependency folders on sys.path (first, like an editable install would).

        A dependency that is a Python project with a `src/` layout (the public templates:
        `src/react_agent/...` with `dependencies: ["."]`) gets its `src/` on the path too, as
        installing it would; so its graphs' `from react_agent.tools import ...` work without a
        `pip install -e .` first."""
        added: list[Path] = []
        for path in reversed(self.dependency_dirs()):
            if not path.is_dir():
                logger.warning("%s: dependency folder %s does not exist", self._where(), path)
                continue
            for entry_path in (path, *_src_layout(path)):
                entry = str(entry_path)
                if entry not in sys.path:
                    sys.path.insert(0, entry)
                    added.append(entry_path)
        return added

    def activate(self) -> None:
        """Prepare the process to import the project's graphs: env first, then sys.path."""
        self.apply_env()
        self.apply_dependencies()

    def unknown_keys(self) -> list[str]:
        """Dotted names of keys this version does not know (for warnings)."""
        found = [str(k) for k in (self.model_extra or {}) if k not in IGNORED_KEYS]
        for name in type(self).model_fields:
            found += [f"{name}.{k}" for k in _extras(getattr(self, name))]
        return found

    def _where(self) -> str:
        return str(self.config_path) if self.config_path else "langgraph.json"


def _extras(value: Any) -> list[str]:
    if not isinstance(value, BaseModel):
        return []
    found = [str(k) for k in (value.model_extra or {})]
    for name in type(value).model_fields:
        found += [f"{name}.{k}" for k in _extras(getattr(value, name))]
    return found


def _looks_local(dep: str) -> bool:
    return dep.startswith((".", "/", "~")) or dep in {".", ".."}


# --- entry points ---------------------------------------------------------------------------


def parse_project(
    data: Any,
    *,
    base_dir: Path | str | None = None,
    source: str = "langgraph.json",
    warn: bool = True,
) -> ProjectConfig:
    """Validate already-decoded config content; errors name the key and the source."""
    if not isinstance(data, Mapping):
        raise ProjectError(f"{source}: expected a JSON object, got {type(data).__name__}")
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    config_path = Path(source) if source.endswith(".json") else None
    try:
        project = ProjectConfig.model_validate(
            {**data, "base_dir": base, "config_path": config_path}
        )
    except ValidationError as exc:
        raise ProjectError(f"{source}: {_format_validation(exc)}") from None
    project._raw = dict(data)
    if warn:
        for key in project.unknown_keys():
            logger.warning("%s: unknown key %r ignored", source, key)
    return project


def load_project(path: Path | str) -> ProjectConfig:
    """Read and validate a `langgraph.json`; paths inside are relative to its folder."""
    config_path = Path(path).expanduser()
    data = _read_json(config_path)
    return parse_project(data, base_dir=config_path.resolve().parent, source=str(config_path))


def _read_json(config_path: Path) -> Any:
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{config_path}: file not found") from None
    except OSError as exc:
        raise ProjectError(f"{config_path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"{config_path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
        ) from None


# env var -> langgraph.json key, as the LangGraph CLI passes them to the server
ENV_SECTIONS: dict[str, str] = {
    "LANGGRAPH_STORE": "store",
    "LANGGRAPH_CHECKPOINTER": "checkpointer",
    "LANGGRAPH_AUTH": "auth",
    "LANGGRAPH_HTTP": "http",
    "LANGGRAPH_WEBHOOKS": "webhooks",
    "LANGGRAPH_UI": "ui",
    "LANGGRAPH_UI_CONFIG": "ui_config",
    "LANGGRAPH_ENCRYPTION": "encryption",
    "LANGGRAPH_PRIORITY": "priority",
}


def project_from_env(
    base: ProjectConfig | Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    base_dir: Path | str | None = None,
) -> ProjectConfig | None:
    """The project as a deployed LangGraph server would see it.

    Starts from `base` (a loaded project, or the path of a `langgraph.json` that may not exist),
    then applies `AGENT_SERVER_CONFIG`, `LANGSERVE_GRAPHS` (replaces `graphs`) and the
    `LANGGRAPH_*` JSON sections (each replaces its key). Relative graph paths are resolved
    against the config folder, else `base_dir`, else the cwd. Returns None when there is
    neither a project file nor any of those variables.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    folder = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    source = "environment"
    config_path: Path | None = None
    loaded: ProjectConfig | None = None
    if isinstance(base, ProjectConfig):
        loaded, data = base, dict(base.raw_content())
        folder, config_path = base.base_dir, base.config_path
        source = str(config_path or source)
    elif base is not None and Path(base).is_file():
        config_path = Path(base).expanduser()
        raw_data = _read_json(config_path)
        if not isinstance(raw_data, dict):
            raise ProjectError(
                f"{config_path}: expected a JSON object, got {type(raw_data).__name__}"
            )
        data, folder, source = dict(raw_data), config_path.resolve().parent, str(config_path)

    overrides: dict[str, Any] = {}
    if raw := env.get("AGENT_SERVER_CONFIG"):
        unified = _env_json("AGENT_SERVER_CONFIG", raw)
        if not isinstance(unified, dict):
            raise ProjectError("AGENT_SERVER_CONFIG: expected a JSON object")
        overrides.update({k: v for k, v in unified.items() if v is not None})
    if raw := env.get("LANGSERVE_GRAPHS"):
        overrides["graphs"] = _env_json("LANGSERVE_GRAPHS", raw)
    for var, key in ENV_SECTIONS.items():
        if raw := env.get(var):
            overrides[key] = _env_json(var, raw)
    if not overrides:
        if loaded is not None:
            return loaded
        if config_path is None:
            return None
    data.update(overrides)
    project = parse_project(
        data,
        base_dir=folder,
        source=f"{source} + env" if overrides else source,
        warn=loaded is None,
    )
    project.config_path = config_path
    return project


def graph_configs_from_env(environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """`LANGGRAPH_CONFIG`: graph id -> the config its system assistant is created with (the
    LangGraph CLI sets it; a project sets it through langgraph.json's `env`)."""
    env = os.environ if environ is None else environ
    raw = env.get("LANGGRAPH_CONFIG")
    if not raw:
        return {}
    configs = _env_json("LANGGRAPH_CONFIG", raw)
    if not isinstance(configs, dict):
        raise ProjectError("LANGGRAPH_CONFIG: expected a JSON object of graph id -> config")
    for graph_id, config in configs.items():
        if config is not None and not isinstance(config, dict):
            raise ProjectError(
                f"LANGGRAPH_CONFIG: the config of graph {graph_id!r} must be a JSON object"
            )
    return {k: v for k, v in configs.items() if v}


def _env_json(var: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{var}: invalid JSON at column {exc.colno}: {exc.msg}") from None


def _format_validation(exc: ValidationError) -> str:
    """One line per problem: `graphs.agent.path: <message>`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _src_layout(project: Path) -> list[Path]:
    """`project/src` when `project` is a Python project (pyproject.toml or setup.py) keeping its
    packages there."""
    src = project / "src"
    if not src.is_dir():
        return []
    if not ((project / "pyproject.toml").is_file() or (project / "setup.py").is_file()):
        return []
    return [src]
