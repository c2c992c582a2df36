"""tests/unit/ runs with PostgreSQL and Redis stopped: a test here that asks for either fails,
naming the tier it belongs in, instead of skipping where the services happen to be down."""

from __future__ import annotations

import pytest

from tests.support import pg


@pytest.fixture(autouse=True)
def _no_services(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, default_port: int) -> bool:
        pytest.fail(
            f"a unit test asked for {url}: tests that need PostgreSQL or Redis belong in "
            "tests/integration/"
        )

    monkeypatch.setattr(pg, "_reachable", refuse)
