"""POST /build's query -> BuildOptions."""

from __future__ import annotations

import pytest

from skiff.build.options import BuildOptions
from skiff.build.query import options_from_query
from skiff.errors import InvalidParameter, Unimplemented


def test_docker_cli_query() -> None:
    q = {
        "t": ["app:1", "app:latest"],
        "dockerfile": "sub/Dockerfile",
        "buildargs": '{"A":"1","B":null}',
        "labels": '{"k":"v"}',
        "cachefrom": '["app:cache"]',
        "nocache": "1",
        "pull": "true",
        "q": "1",
        "rm": "1",
        "target": "final",
        "networkmode": "host",
        "platform": "linux/amd64",
        "extrahosts": "db:10.0.0.2,cache:10.0.0.3",
        "memory": "1048576",
        "cpusetcpus": "0-1",
        "buildid": "b-123",
        "version": "1",
    }
    o = options_from_query(q)
    assert o == BuildOptions(
        dockerfile="sub/Dockerfile",
        tags=("app:1", "app:latest"),
        build_args={"A": "1", "B": None},
        labels={"k": "v"},
        target="final",
        no_cache=True,
        pull=True,
        cache_from=("app:cache",),
        network_mode="host",
        platform="linux/amd64",
        quiet=True,
        extra_hosts=("db:10.0.0.2", "cache:10.0.0.3"),
        resources={"memory": 1048576, "cpusetcpus": "0-1"},
        build_id="b-123",
    )


def test_defaults() -> None:
    assert options_from_query({}) == BuildOptions()
    assert options_from_query({"nocache": "0", "pull": "false"}) == BuildOptions()


@pytest.mark.parametrize(
    ("query", "exc", "message"),
    [
        ({"version": "2"}, Unimplemented, "BuildKit (version=2) is not supported"),
        ({"remote": "https://github.com/x/y.git"}, Unimplemented, "remote build contexts"),
        ({"squash": "1"}, InvalidParameter, "squash is only supported with experimental mode"),
        ({"buildargs": "{bad"}, InvalidParameter, "error reading build args"),
        ({"labels": '{"a": 1}'}, InvalidParameter, "error reading labels"),
        ({"cachefrom": '"x"'}, InvalidParameter, "error reading cache-from"),
        ({"memory": "lots"}, InvalidParameter, "invalid value for memory: lots"),
    ],
)
def test_refusals(query: dict[str, str], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        options_from_query(query)
