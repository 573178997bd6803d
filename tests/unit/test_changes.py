"""Tests for the Dockerfile-style ``changes`` of ``docker import`` / ``docker commit``."""

from typing import Any

import pytest

from engine.errors import InvalidParameter
from engine.images.changes import apply_change, apply_changes


def _apply(*changes: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return apply_changes(config if config is not None else {}, list(changes))


def test_cmd_exec_form() -> None:
    assert _apply('CMD ["nginx", "-g", "daemon off;"]')["Cmd"] == ["nginx", "-g", "daemon off;"]


def test_cmd_shell_form() -> None:
    assert _apply("CMD echo hi && sleep 1")["Cmd"] == ["/bin/sh", "-c", "echo hi && sleep 1"]


def test_cmd_invalid_json_falls_back_to_shell_form() -> None:
    assert _apply("CMD [not json")["Cmd"] == ["/bin/sh", "-c", "[not json"]
    assert _apply("CMD [1, 2]")["Cmd"] == ["/bin/sh", "-c", "[1, 2]"]


def test_instruction_is_case_insensitive() -> None:
    assert _apply('cmd ["sh"]')["Cmd"] == ["sh"]


def test_entrypoint_exec_and_shell_forms() -> None:
    assert _apply('ENTRYPOINT ["/init", "--"]')["Entrypoint"] == ["/init", "--"]
    assert _apply("ENTRYPOINT exec app")["Entrypoint"] == ["/bin/sh", "-c", "exec app"]


def test_empty_entrypoint_resets_it() -> None:
    assert _apply("ENTRYPOINT", config={"Entrypoint": ["/init"]})["Entrypoint"] is None


def test_later_change_wins() -> None:
    assert _apply('CMD ["a"]', 'CMD ["b"]')["Cmd"] == ["b"]


def test_env_key_value_form() -> None:
    config = _apply('ENV A=1 B="two words" C=')
    assert config["Env"] == ["A=1", "B=two words", "C="]


def test_env_legacy_form() -> None:
    assert _apply("ENV GREETING hello there")["Env"] == ["GREETING=hello there"]


def test_env_replaces_existing_key_and_keeps_others() -> None:
    config = _apply("ENV PATH=/opt/bin", config={"Env": ["PATH=/usr/bin", "HOME=/root"]})
    assert config["Env"] == ["HOME=/root", "PATH=/opt/bin"]


def test_env_does_not_replace_key_with_common_prefix() -> None:
    config = _apply("ENV A=2", config={"Env": ["AB=1"]})
    assert config["Env"] == ["AB=1", "A=2"]


@pytest.mark.parametrize("change", ["ENV", "ENV A", "ENV =x", "LABEL", "LABEL only"])
def test_env_and_label_reject_incomplete(change: str) -> None:
    with pytest.raises(InvalidParameter):
        _apply(change)


@pytest.mark.parametrize("change", ['ENV A="unterminated', "LABEL a='b"])
def test_unterminated_quote_is_invalid_parameter(change: str) -> None:
    with pytest.raises(InvalidParameter):
        _apply(change)


def test_label_merges_with_existing() -> None:
    config = _apply('LABEL a=1 "b c"=2', config={"Labels": {"a": "0", "keep": "yes"}})
    assert config["Labels"] == {"a": "1", "b c": "2", "keep": "yes"}


def test_label_legacy_form() -> None:
    assert _apply("LABEL maintainer someone <a@b.c>")["Labels"] == {"maintainer": "someone <a@b.c>"}


def test_expose_defaults_to_tcp() -> None:
    config = _apply("EXPOSE 80 53/udp", "EXPOSE 443/tcp")
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "443/tcp": {}}


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", "80a/tcp"])
def test_expose_rejects_bad_port(port: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid containerPort"):
        _apply(f"EXPOSE {port}")


def test_volume_json_and_plain_forms() -> None:
    config = _apply('VOLUME ["/data", "/logs"]', "VOLUME /cache /tmp/x")
    assert config["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}, "/tmp/x": {}}


@pytest.mark.parametrize(
    ("current", "change", "expected"),
    [
        (None, "WORKDIR /app", "/app"),
        (None, "WORKDIR app", "/app"),
        ("/srv", "WORKDIR app", "/srv/app"),
        ("/srv", "WORKDIR /abs", "/abs"),
        ("/srv/a", "WORKDIR ../b", "/srv/b"),
        ("", "WORKDIR x/./y/", "/x/y"),
    ],
)
def test_workdir(current: str | None, change: str, expected: str) -> None:
    config = {} if current is None else {"WorkingDir": current}
    assert _apply(change, config=config)["WorkingDir"] == expected


def test_workdir_changes_accumulate() -> None:
    assert _apply("WORKDIR /a", "WORKDIR b", "WORKDIR c")["WorkingDir"] == "/a/b/c"


def test_user_and_stopsignal() -> None:
    config = _apply("USER 1000:1000", "STOPSIGNAL SIGQUIT")
    assert config["User"] == "1000:1000"
    assert config["StopSignal"] == "SIGQUIT"


def test_onbuild_appends() -> None:
    config = _apply("ONBUILD RUN make", config={"OnBuild": ["COPY . /src"]})
    assert config["OnBuild"] == ["COPY . /src", "RUN make"]


@pytest.mark.parametrize(
    "change", ["FROM busybox", "RUN echo hi", "COPY . /", "ADD x /", "MAINTAINER me", "BOGUS"]
)
def test_disallowed_instruction(change: str) -> None:
    with pytest.raises(InvalidParameter, match="is not a valid change command"):
        apply_change({}, change)


def test_blank_changes_are_skipped() -> None:
    assert _apply("", "   ", "USER nobody") == {"User": "nobody"}


def test_apply_changes_returns_the_same_dict() -> None:
    config: dict[str, Any] = {"Env": ["A=1"]}
    assert apply_changes(config, ["USER x"]) is config
    assert config == {"Env": ["A=1"], "User": "x"}
