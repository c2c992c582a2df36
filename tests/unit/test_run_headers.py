"""The request-header rule for a run's configurable (services/run_headers.py)."""

from __future__ import annotations

import uuid

from threadloom.services.run_headers import HeaderPatterns, configurable_headers, request_id


def test_by_default_only_the_tracing_headers_are_taken() -> None:
    headers = {
        "x-custom": "1",
        "user-agent": "ua",
        "authorization": "Bearer t",
        "langsmith-trace": "trace-1",
        "baggage": "langsmith-metadata=%7B%22k%22%3A1%7D,langsmith-tags=a%2Cb,x=y",
    }
    assert configurable_headers(headers) == {
        "langsmith-trace": "trace-1",
        "langsmith-metadata": {"k": 1},
        "langsmith-tags": ["a", "b"],
    }
    assert configurable_headers({"baggage": "langsmith-project=p"}) == {}  # no trace: no baggage


def test_malformed_baggage_metadata_is_skipped() -> None:
    got = configurable_headers({"langsmith-trace": "t", "baggage": "langsmith-metadata=[1]"})
    assert got == {"langsmith-trace": "t"}


def test_patterns_widen_and_narrow_but_never_secrets() -> None:
    patterns = HeaderPatterns(include=("x-*", "user-agent"), exclude=("x-internal-*",))
    headers = {"x-a": "1", "x-internal-b": "2", "user-agent": "ua", "x-api-key": "k", "cookie": "c"}
    assert configurable_headers(headers, patterns) == {"x-a": "1", "user-agent": "ua"}
    # `*` is the only wildcard: regex syntax in a pattern is literal
    assert configurable_headers({"x-ab": "1"}, HeaderPatterns(include=("x-a.",))) == {}


def test_every_run_gets_a_request_id() -> None:
    assert request_id({"x-request-id": "r-1"}) == "r-1"
    assert uuid.UUID(request_id({}))
    assert request_id(None) != request_id(None)


def test_configurable_headers_setting_becomes_patterns() -> None:
    from threadloom.graphs.project import HeaderFilterConfig
    from threadloom.services.run_headers import header_patterns

    patterns = header_patterns(
        HeaderFilterConfig(includes=["X-*", "user-agent"], excludes=["x-secret-*"])
    )
    seen = configurable_headers(
        {"x-a": "1", "x-secret-key": "s", "user-agent": "u", "accept": "*/*", "x-api-key": "k"},
        patterns,
    )
    assert seen == {"x-a": "1", "user-agent": "u"}
    # the reference's aliases
    alias = header_patterns(HeaderFilterConfig(include=["accept"]))
    assert configurable_headers({"accept": "*/*", "x-a": "1"}, alias) == {"accept": "*/*"}
    assert header_patterns(None).admits("x-a") is False
