"""Tests for merging flags, the config file and defaults."""

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.config import EngineConfig, load_config, reload_config
from engine.errors import InvalidParameter
from engine.paths import DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_SOCKET


def _write(path: Path, value: Any) -> Path:
    path.write_bytes(orjson.dumps(value))
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "daemon.json"


def test_defaults() -> None:
    config = load_config([])
    assert config.hosts == [DEFAULT_SOCKET]
    assert config.data_root == DEFAULT_DATA_ROOT
    assert config.exec_root == DEFAULT_EXEC_ROOT
    assert config.log_level == "info"
    assert config.debug is False
    assert config.insecure_tcp is False
    assert config.labels == []
    assert config.bridge == "doca0"
    assert config.group == "doca"
    assert config.config_file is None
    assert config.pidfile is None
    assert config.python_log_level == logging.INFO


def test_defaults_are_not_shared_between_configs() -> None:
    first = load_config([])
    first.hosts.append("tcp://127.0.0.1:2375")
    assert load_config([]).hosts == [DEFAULT_SOCKET]


def test_flags(tmp_path: Path) -> None:
    config = load_config(
        [
            "--data-root",
            str(tmp_path / "data"),
            "--exec-root",
            str(tmp_path / "run"),
            "-p",
            str(tmp_path / "pid"),
            "-l",
            "warn",
            "-D",
            "-b",
            "none",
            "--label",
            "a=1",
            "--label",
            "b=2",
            "--insecure-tcp",
            "--group",
            "wheel",
        ]
    )
    assert config.data_root == tmp_path / "data"
    assert config.exec_root == tmp_path / "run"
    assert config.pidfile == tmp_path / "pid"
    assert config.log_level == "warn"
    assert config.debug is True
    assert config.bridge == "none"
    assert config.labels == ["a=1", "b=2"]
    assert config.insecure_tcp is True
    assert config.group == "wheel"
    assert config.python_log_level == logging.DEBUG  # --debug wins over the level
    assert config.paths.data_root == tmp_path / "data"


def test_repeated_host_flag() -> None:
    config = load_config(["-H", "unix:///tmp/a.sock", "--host", "tcp://127.0.0.1:2375"])
    assert config.hosts == ["unix:///tmp/a.sock", "tcp://127.0.0.1:2375"]


def test_relative_data_root_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(["--data-root", "state"]).data_root == tmp_path / "state"


def test_bad_log_level_flag_exits() -> None:
    with pytest.raises(SystemExit):
        load_config(["--log-level", "loud"])


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("debug", logging.DEBUG),
        ("warn", logging.WARNING),
        ("error", logging.ERROR),
        ("fatal", logging.CRITICAL),
    ],
)
def test_python_log_level(level: str, expected: int) -> None:
    assert EngineConfig(log_level=level).python_log_level == expected


def test_config_file_keys(config_file: Path, tmp_path: Path) -> None:
    _write(
        config_file,
        {
            "data-root": str(tmp_path / "data"),
            "hosts": ["unix:///tmp/x.sock", "tcp://127.0.0.1:1"],
            "log-level": "error",
            "labels": ["env=test"],
            "debug": True,
        },
    )
    config = load_config(["--config-file", str(config_file)])
    assert config.config_file == config_file
    assert config.data_root == tmp_path / "data"
    assert config.hosts == ["unix:///tmp/x.sock", "tcp://127.0.0.1:1"]
    assert config.log_level == "error"
    assert config.labels == ["env=test"]
    assert config.debug is True


def test_config_file_single_string_host(config_file: Path) -> None:
    _write(config_file, {"host": "unix:///tmp/one.sock"})
    assert load_config(["--config-file", str(config_file)]).hosts == ["unix:///tmp/one.sock"]


def test_file_and_flags_combine_when_disjoint(config_file: Path) -> None:
    _write(config_file, {"log-level": "debug"})
    config = load_config(["--config-file", str(config_file), "-H", "unix:///tmp/a.sock"])
    assert config.log_level == "debug"
    assert config.hosts == ["unix:///tmp/a.sock"]


@pytest.mark.parametrize(
    ("file_values", "flags", "named"),
    [
        ({"hosts": ["unix:///tmp/a.sock"]}, ["-H", "unix:///tmp/b.sock"], "hosts"),
        ({"data-root": "/tmp/a"}, ["--data-root", "/tmp/b"], "data-root"),
        ({"log-level": "debug"}, ["-l", "info"], "log-level"),
        ({"debug": False}, ["-D"], "debug"),
    ],
)
def test_key_in_flag_and_file_is_an_error(
    config_file: Path, file_values: dict[str, Any], flags: list[str], named: str
) -> None:
    _write(config_file, file_values)
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration") as exc:
        load_config(["--config-file", str(config_file), *flags])
    assert named in exc.value.message


def test_unknown_file_key(config_file: Path) -> None:
    _write(config_file, {"log-level": "info", "no-such-thing": 1})
    with pytest.raises(InvalidParameter, match="unknown directive 'no-such-thing'"):
        load_config(["--config-file", str(config_file)])


def test_config_file_may_not_name_a_config_file(config_file: Path) -> None:
    _write(config_file, {"config-file": "/etc/other.json"})
    with pytest.raises(InvalidParameter, match="unknown directive"):
        load_config(["--config-file", str(config_file)])


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_bad_json(config_file: Path, content: bytes) -> None:
    config_file.write_bytes(content)
    with pytest.raises(InvalidParameter, match="unable to configure the engine"):
        load_config(["--config-file", str(config_file)])


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="no such file"):
        load_config(["--config-file", str(tmp_path / "absent.json")])


@pytest.mark.parametrize(
    "values",
    [
        {"hosts": [1]},
        {"labels": "a=b=c", "debug": "yes"},
        {"debug": "yes"},
        {"log-level": "loud"},
        {"bridge": 7},
    ],
)
def test_bad_file_values(config_file: Path, values: dict[str, Any]) -> None:
    _write(config_file, values)
    with pytest.raises(InvalidParameter):
        load_config(["--config-file", str(config_file)])


def test_null_data_root_is_invalid_parameter(config_file: Path) -> None:
    _write(config_file, {"data-root": None})
    with pytest.raises(InvalidParameter):
        load_config(["--config-file", str(config_file)])


def test_reload_changes_only_reloadable_keys(config_file: Path, tmp_path: Path) -> None:
    _write(config_file, {"log-level": "info", "data-root": str(tmp_path / "old")})
    config = load_config(["--config-file", str(config_file)])
    _write(
        config_file,
        {
            "log-level": "debug",
            "labels": ["x=1"],
            "debug": False,
            "data-root": str(tmp_path / "new"),
            "hosts": ["unix:///tmp/new.sock"],
        },
    )
    changed = reload_config(config)
    assert sorted(changed) == ["labels", "log_level"]  # debug was already False
    assert config.log_level == "debug"
    assert config.labels == ["x=1"]
    assert config.data_root == tmp_path / "old"
    assert config.hosts == [DEFAULT_SOCKET]


def test_reload_without_changes(config_file: Path) -> None:
    _write(config_file, {"log-level": "warn"})
    config = load_config(["--config-file", str(config_file)])
    assert reload_config(config) == []


def test_reload_without_config_file() -> None:
    config = load_config(["-l", "debug"])
    assert reload_config(config) == []
    assert config.log_level == "debug"


def test_reload_rejects_bad_file_and_keeps_config(config_file: Path) -> None:
    _write(config_file, {"log-level": "warn"})
    config = load_config(["--config-file", str(config_file)])
    config_file.write_bytes(b"{broken")
    with pytest.raises(InvalidParameter):
        reload_config(config)
    assert config.log_level == "warn"
