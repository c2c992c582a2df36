"""The dashboard's page and assets, shipped inside the package (no network, no build step).

`index.html` is the one page (a shell without data); `app.js` renders every view in the
browser from the JSON API, `app.css` styles it. The shell and assets hold no data, so they are
served without credentials: the page asks for a key or token and sends it on every API call,
where the API's own authentication and authorization apply (docs/dashboard.md).
"""

from __future__ import annotations

from importlib import resources

PREFIX = "/dashboard"
CONTENT_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# served without credentials: the shell and its assets (no data)
SHELL_PATHS = frozenset({PREFIX, *(f"{PREFIX}/assets/{name}" for name in CONTENT_TYPES)})


def read(name: str) -> bytes:
    """An asset's bytes (`index.html` or one of CONTENT_TYPES), from inside the package."""
    return resources.files(__package__).joinpath(name).read_bytes()
