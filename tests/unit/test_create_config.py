"""engine.containers.create_config: the create body's type checks, dockerd's validation
(daemon/container.go validateHostConfig, daemon_unix.go verifyPlatformContainerResources,
api/types/container ValidateRestartPolicy) and the merge with the image (daemon/commit.go merge,
daemon/create.go mergeAndVerifyConfig)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from engine.containers.create_config import (
    MIN_MEMORY,
    check_types,
    command_of,
    merge_with_image,
    validate_host_config,
)
from engine.containers.spec import console_size
from engine.errors import Conflict, EngineError, InvalidParameter

MB = 1024 * 1024

# -- check_types ------------------------------------------------------------------------------


def _type_message(config: dict[str, Any], host: dict[str, Any]) -> str:
    with pytest.raises(InvalidParameter) as info:
        check_types(config, host)
    return info.value.message


def test_string_memory_is_refused_like_go_json() -> None:
    assert _type_message({}, {"Memory": "1g"}) == (
        "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64"
    )


def test_string_privileged_is_refused_like_go_json() -> None:
    assert _type_message({}, {"Privileged": "true"}) == (
        "json: cannot unmarshal string into Go struct field HostConfig.Privileged of type bool"
    )


def test_bool_memory_is_not_taken_for_an_int() -> None:
    message = _type_message({}, {"Memory": True})
    assert message == (
        "json: cannot unmarshal bool into Go struct field HostConfig.Memory of type int64"
    )


def test_list_labels_are_refused() -> None:
    message = _type_message({"Labels": ["a=b"]}, {})
    assert message.startswith("json: cannot unmarshal ")
    assert message.endswith(
        " into Go struct field ContainerConfigWrapper.Labels of type map[string]string"
    )


def test_int_cmd_is_refused() -> None:
    message = _type_message({"Cmd": 5}, {})
    assert message.startswith("json: cannot unmarshal ")
    assert "ContainerConfigWrapper.Cmd" in message


@pytest.mark.parametrize(
    ("config", "word"),
    [({"Labels": ["a=b"]}, "array"), ({"Cmd": 5}, "number"), ({"Tty": 1.5}, "number")],
)
def test_type_errors_name_the_json_value_as_go_does(config: dict[str, Any], word: str) -> None:
    assert _type_message(config, {}).startswith(f"json: cannot unmarshal {word} into ")


@pytest.mark.parametrize(
    "config",
    [
        {"Cmd": "echo hello", "Entrypoint": "/bin/sh"},
        {"Cmd": ["echo", "hello"], "Entrypoint": ["/bin/sh", "-c"]},
        {"Cmd": None, "Entrypoint": None, "Env": None, "Labels": None},
        {"Env": ["A=1"], "Labels": {"a": "b"}, "Tty": True, "OpenStdin": False},
    ],
)
def test_well_typed_configs_pass(config: dict[str, Any]) -> None:
    check_types(config, {})


def test_well_typed_host_config_passes() -> None:
    check_types(
        {},
        {
            "Memory": 64 * MB,
            "NanoCpus": 500_000_000,
            "CapAdd": ["NET_ADMIN"],
            "Binds": ["/a:/b"],
            "Privileged": False,
            "AutoRemove": True,
            "PidsLimit": None,
        },
    )


@pytest.mark.parametrize(
    ("config", "host", "field"),
    [
        ({"Env": "A=1"}, {}, "ContainerConfigWrapper.Env of type []string"),
        ({"Cmd": ["echo", 1]}, {}, "ContainerConfigWrapper.Cmd of type []string"),
        ({"Tty": "yes"}, {}, "ContainerConfigWrapper.Tty of type bool"),
        ({}, {"Binds": "/a:/b"}, "HostConfig.Binds of type []string"),
        ({}, {"NanoCpus": 1.5}, "HostConfig.NanoCpus of type int64"),
        ({}, {"AutoRemove": 1}, "HostConfig.AutoRemove of type bool"),
    ],
)
def test_other_wrong_types_name_the_field(
    config: dict[str, Any], host: dict[str, Any], field: str
) -> None:
    assert _type_message(config, host).endswith(f"Go struct field {field}")


# -- validate_host_config ---------------------------------------------------------------------


def _refusal(host: dict[str, Any]) -> EngineError:
    with pytest.raises(EngineError) as info:
        validate_host_config(host)
    return info.value


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def test_memory_below_6mb_is_refused() -> None:
    error = _refusal({"Memory": 4 * MB})
    assert isinstance(error, InvalidParameter)
    assert error.message == "Minimum memory limit allowed is 6MB"


@pytest.mark.parametrize("memory", [0, MIN_MEMORY, 6 * MB, 1024 * MB])
def test_memory_of_6mb_or_more_or_unset_is_fine(memory: int) -> None:
    validate_host_config({"Memory": memory})


def test_swap_below_memory_is_refused() -> None:
    error = _refusal({"Memory": 64 * MB, "MemorySwap": 32 * MB})
    assert isinstance(error, InvalidParameter)
    assert error.message == (
        "Minimum memoryswap limit should be larger than memory limit, see usage"
    )


@pytest.mark.parametrize("swap", [-1, 0, 64 * MB, 128 * MB])
def test_swap_unlimited_unset_or_at_least_memory_is_fine(swap: int) -> None:
    validate_host_config({"Memory": 64 * MB, "MemorySwap": swap})


def test_swap_without_memory_is_refused() -> None:
    error = _refusal({"MemorySwap": 64 * MB})
    assert isinstance(error, InvalidParameter)
    assert error.message.startswith(
        "You should always set the Memory limit when using Memoryswap limit"
    )


def test_swap_without_memory_message_is_dockerds() -> None:
    assert _refusal({"MemorySwap": 64 * MB}).message == (
        "You should always set the Memory limit when using Memoryswap limit, see usage"
    )


@pytest.mark.usefixtures("two_cpus")
@pytest.mark.parametrize("nano", [3_000_000_000, 2_000_000_001, -1])
def test_nano_cpus_beyond_the_cpus_there_are_is_refused(nano: int) -> None:
    error = _refusal({"NanoCpus": nano})
    assert isinstance(error, InvalidParameter)
    assert error.message == (
        "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
    )


@pytest.mark.usefixtures("two_cpus")
@pytest.mark.parametrize("nano", [0, 10_000_000, 1_500_000_000, 2_000_000_000])
def test_nano_cpus_within_range_are_fine(nano: int) -> None:
    validate_host_config({"NanoCpus": nano})


def test_the_range_follows_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    validate_host_config({"NanoCpus": 8_000_000_000})
    assert "only 8 CPUs" in _refusal({"NanoCpus": 9_000_000_000}).message


@pytest.mark.usefixtures("two_cpus")
def test_nano_cpus_with_cpu_period_is_refused() -> None:
    error = _refusal({"NanoCpus": 1_000_000_000, "CpuPeriod": 100_000})
    assert isinstance(error, InvalidParameter)
    assert error.message == "Conflicting options: Nano CPUs and CPU Period cannot both be set"


@pytest.mark.usefixtures("two_cpus")
def test_nano_cpus_with_cpu_quota_is_refused() -> None:
    assert isinstance(_refusal({"NanoCpus": 1_000_000_000, "CpuQuota": 50_000}), InvalidParameter)


@pytest.mark.usefixtures("two_cpus")
def test_nano_cpus_with_cpu_quota_message_is_dockerds() -> None:
    assert _refusal({"NanoCpus": 1_000_000_000, "CpuQuota": 50_000}).message == (
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    )


@pytest.mark.parametrize(
    "policy",
    [
        None,
        {},
        {"Name": ""},
        {"Name": "no"},
        {"Name": "always"},
        {"Name": "unless-stopped"},
        {"Name": "on-failure"},
        {"Name": "on-failure", "MaximumRetryCount": 5},
        {"Name": "always", "MaximumRetryCount": 0},
    ],
)
def test_good_restart_policies(policy: dict[str, Any] | None) -> None:
    validate_host_config({"RestartPolicy": policy})


def test_unknown_restart_policy_is_refused() -> None:
    error = _refusal({"RestartPolicy": {"Name": "sometimes"}})
    assert isinstance(error, InvalidParameter)
    assert "invalid restart policy" in error.message
    assert "'sometimes'" in error.message


def test_unknown_restart_policy_message_is_dockerds() -> None:
    assert _refusal({"RestartPolicy": {"Name": "sometimes"}}).message == (
        "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', "
        "'on-failure', or 'unless-stopped'"
    )


@pytest.mark.parametrize("name", ["always", "unless-stopped", "no"])
def test_retries_only_go_with_on_failure(name: str) -> None:
    error = _refusal({"RestartPolicy": {"Name": name, "MaximumRetryCount": 3}})
    assert isinstance(error, InvalidParameter)
    assert error.message == (
        "invalid restart policy: maximum retry count can only be used with 'on-failure'"
    )


def test_negative_retries_are_refused() -> None:
    error = _refusal({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}})
    assert isinstance(error, InvalidParameter)
    assert error.message == "invalid restart policy: maximum retry count cannot be negative"


def test_negative_retries_with_always_message_is_dockerds() -> None:
    assert _refusal({"RestartPolicy": {"Name": "always", "MaximumRetryCount": -1}}).message == (
        "invalid restart policy: maximum retry count can only be used with 'on-failure' "
        "and cannot be negative"
    )


def test_empty_policy_name_with_retries_is_accepted() -> None:
    validate_host_config({"RestartPolicy": {"Name": "", "MaximumRetryCount": 3}})


def test_restart_policy_must_be_an_object() -> None:
    assert isinstance(_refusal({"RestartPolicy": "always"}), InvalidParameter)


@pytest.mark.parametrize("name", ["always", "unless-stopped", "on-failure"])
def test_auto_remove_with_a_restart_policy_is_refused(name: str) -> None:
    error = _refusal({"AutoRemove": True, "RestartPolicy": {"Name": name}})
    assert isinstance(error, Conflict | InvalidParameter)


def test_auto_remove_with_a_restart_policy_is_dockerds_400() -> None:
    error = _refusal({"AutoRemove": True, "RestartPolicy": {"Name": "always"}})
    assert isinstance(error, InvalidParameter)
    assert error.message == "can't create 'AutoRemove' container with restart policy"


@pytest.mark.parametrize("policy", [None, {"Name": ""}, {"Name": "no"}])
def test_auto_remove_without_a_restart_policy_is_fine(policy: dict[str, Any] | None) -> None:
    validate_host_config({"AutoRemove": True, "RestartPolicy": policy})


# -- merge_with_image -------------------------------------------------------------------------

IMAGE = {
    "Env": ["PATH=/usr/bin:/bin", "LANG=C", "A=image"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "WorkingDir": "/srv",
    "User": "nginx",
    "StopSignal": "SIGQUIT",
    "Labels": {"maintainer": "img", "shared": "image"},
    "ExposedPorts": {"80/tcp": {}},
}


def test_user_env_overrides_the_images_and_adds_its_own() -> None:
    env = merge_with_image({"Env": ["A=user", "B=2"]}, IMAGE)["Env"]
    assert sorted(env) == sorted(["PATH=/usr/bin:/bin", "LANG=C", "A=user", "B=2"])


def test_image_env_is_kept_in_order_when_the_user_gives_none() -> None:
    assert merge_with_image({}, IMAGE)["Env"] == IMAGE["Env"]


def test_a_variable_without_value_overrides_too() -> None:
    env = merge_with_image({"Env": ["LANG"]}, IMAGE)["Env"]
    assert "LANG" in env
    assert "LANG=C" not in env


def test_env_order_is_dockerds() -> None:
    assert merge_with_image({"Env": ["A=user", "B=2"]}, IMAGE)["Env"] == [
        "A=user",
        "B=2",
        "PATH=/usr/bin:/bin",
        "LANG=C",
    ]


def test_nothing_given_takes_the_images_entrypoint_and_cmd() -> None:
    merged = merge_with_image({}, IMAGE)
    assert merged["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert merged["Cmd"] == ["nginx", "-g", "daemon off;"]


def test_user_entrypoint_drops_the_images_cmd() -> None:
    merged = merge_with_image({"Entrypoint": ["/bin/sh"]}, IMAGE)
    assert merged["Entrypoint"] == ["/bin/sh"]
    assert not merged.get("Cmd")


def test_user_cmd_keeps_the_images_entrypoint() -> None:
    merged = merge_with_image({"Cmd": ["nginx", "-T"]}, IMAGE)
    assert merged["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert merged["Cmd"] == ["nginx", "-T"]


def test_user_entrypoint_and_cmd_both_win() -> None:
    merged = merge_with_image({"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"]}, IMAGE)
    assert command_of(merged) == ["/bin/sh", "-c", "true"]


def test_empty_string_entrypoint_resets_it_and_keeps_the_users_cmd() -> None:
    merged = merge_with_image({"Entrypoint": [""], "Cmd": ["ls"]}, IMAGE)
    assert not merged["Entrypoint"]
    assert merged["Cmd"] == ["ls"]
    assert command_of(merged) == ["ls"]


def test_empty_string_entrypoint_alone_leaves_no_command() -> None:
    # dockerd does not fall back to the image's Cmd either: len(Entrypoint) == 1 at merge time.
    merged = merge_with_image({"Entrypoint": [""]}, IMAGE)
    assert not merged["Entrypoint"]
    assert not merged.get("Cmd")
    with pytest.raises(InvalidParameter, match=r"^no command specified$"):
        command_of(merged)


def test_empty_list_entrypoint_drops_the_images_entrypoint_only() -> None:
    merged = merge_with_image({"Entrypoint": []}, IMAGE)
    assert not merged["Entrypoint"]
    assert merged["Cmd"] == ["nginx", "-g", "daemon off;"]


def test_single_string_cmd_and_entrypoint_become_one_element_lists() -> None:
    merged = merge_with_image({"Entrypoint": "/bin/sh -c", "Cmd": "echo hi"}, {})
    assert merged["Entrypoint"] == ["/bin/sh -c"]
    assert merged["Cmd"] == ["echo hi"]


def test_single_string_cmd_keeps_the_images_entrypoint() -> None:
    merged = merge_with_image({"Cmd": "echo hi"}, IMAGE)
    assert merged["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert merged["Cmd"] == ["echo hi"]


def test_working_dir_user_and_stop_signal_come_from_the_image_when_unset() -> None:
    merged = merge_with_image({"WorkingDir": "", "User": ""}, IMAGE)
    assert merged["WorkingDir"] == "/srv"
    assert merged["User"] == "nginx"
    assert merged["StopSignal"] == "SIGQUIT"


def test_users_working_dir_user_and_stop_signal_win() -> None:
    merged = merge_with_image(
        {"WorkingDir": "/tmp", "User": "1000:1000", "StopSignal": "SIGTERM"}, IMAGE
    )
    assert merged["WorkingDir"] == "/tmp"
    assert merged["User"] == "1000:1000"
    assert merged["StopSignal"] == "SIGTERM"


def test_labels_merge_with_the_users_winning() -> None:
    merged = merge_with_image({"Labels": {"shared": "user", "mine": "1"}}, IMAGE)
    assert merged["Labels"] == {"maintainer": "img", "shared": "user", "mine": "1"}


def test_exposed_ports_are_the_union() -> None:
    merged = merge_with_image({"ExposedPorts": {"443/tcp": {}}}, IMAGE)
    assert merged["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}}


def test_the_users_config_is_not_mutated() -> None:
    config: dict[str, Any] = {"Cmd": "echo hi", "Env": ["A=1"], "Labels": {"x": "y"}}
    before = {"Cmd": "echo hi", "Env": ["A=1"], "Labels": {"x": "y"}}
    merge_with_image(config, IMAGE)
    assert config == before


def test_other_keys_pass_through() -> None:
    merged = merge_with_image({"Image": "nginx", "Tty": True, "Hostname": "h"}, IMAGE)
    assert (merged["Image"], merged["Tty"], merged["Hostname"]) == ("nginx", True, "h")


# -- command_of -------------------------------------------------------------------------------


def test_command_is_entrypoint_then_cmd() -> None:
    assert command_of({"Entrypoint": ["/ep", "-x"], "Cmd": ["a", "b"]}) == ["/ep", "-x", "a", "b"]
    assert command_of({"Cmd": ["a"]}) == ["a"]
    assert command_of({"Entrypoint": ["/ep"], "Cmd": None}) == ["/ep"]


@pytest.mark.parametrize("config", [{}, {"Entrypoint": None, "Cmd": None}, {"Cmd": []}])
def test_no_command_is_refused(config: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as info:
        command_of(config)
    assert info.value.message == "no command specified"


# -- further dockerd details ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (
            {"NanoCpus": 1.5},
            "json: cannot unmarshal number 1.5 into Go struct field HostConfig.NanoCpus of "
            "type int64",
        ),
        (
            {"Memory": 2**63},
            f"json: cannot unmarshal number {2**63} into Go struct field HostConfig.Memory of "
            "type int64",
        ),
        (
            {"Memory": {}},
            "json: cannot unmarshal object into Go struct field HostConfig.Memory of type int64",
        ),
        (
            {"Dns": ["1.1.1.1", 8]},
            "json: cannot unmarshal number into Go struct field HostConfig.Dns of type string",
        ),
        (
            {"Tmpfs": ["/run"]},
            "json: cannot unmarshal array into Go struct field HostConfig.Tmpfs of type "
            "map[string]string",
        ),
        (
            {"Ulimits": {}},
            "json: cannot unmarshal object into Go struct field HostConfig.Ulimits of type "
            "[]*units.Ulimit",
        ),
    ],
)
def test_go_json_messages(host: dict[str, Any], message: str) -> None:
    assert _type_message({}, host) == message


def test_tmpfs_is_a_map() -> None:
    check_types({}, {"Tmpfs": {"/run": "rw,size=64m"}, "Sysctls": {"net.ipv4.ip_forward": "1"}})


@pytest.mark.usefixtures("two_cpus")
def test_cpu_period_is_reported_before_cpu_quota() -> None:
    error = _refusal({"NanoCpus": 1_000_000_000, "CpuPeriod": 100_000, "CpuQuota": 50_000})
    assert error.message == "Conflicting options: Nano CPUs and CPU Period cannot both be set"


@pytest.mark.usefixtures("two_cpus")
@pytest.mark.parametrize("other", [{"CpuQuota": -1}, {"CpuPeriod": 0}, {"CpuQuota": 0}])
def test_nano_cpus_with_unset_or_unlimited_quota_is_fine(other: dict[str, int]) -> None:
    validate_host_config({"NanoCpus": 1_000_000_000, **other})


@pytest.mark.usefixtures("two_cpus")
def test_nano_cpus_have_no_lower_limit_as_in_dockerd() -> None:
    validate_host_config({"NanoCpus": 1_000})


def test_auto_remove_is_checked_before_the_policy_name() -> None:
    error = _refusal({"AutoRemove": True, "RestartPolicy": {"Name": "sometimes"}})
    assert error.message == "can't create 'AutoRemove' container with restart policy"


def test_extra_hosts_are_validated_with_the_host_config() -> None:
    error = _refusal({"ExtraHosts": ["db:10.0.0.9", "web:nope"]})
    assert isinstance(error, InvalidParameter)
    assert error.message == 'invalid IP address in add-host: "nope"'


def test_the_users_env_is_kept_as_given_duplicates_included() -> None:
    env = merge_with_image({"Env": ["B=1", "B=2", "LANG"]}, IMAGE)["Env"]
    assert env == ["B=1", "B=2", "LANG", "PATH=/usr/bin:/bin", "A=image"]


def test_null_entrypoint_takes_the_images() -> None:
    merged = merge_with_image({"Entrypoint": None, "Cmd": ["-x"]}, IMAGE)
    assert merged["Entrypoint"] == ["/docker-entrypoint.sh"]
    assert merged["Cmd"] == ["-x"]


def test_empty_list_entrypoint_with_a_cmd_runs_the_cmd_alone() -> None:
    merged = merge_with_image({"Entrypoint": [], "Cmd": ["ls"]}, IMAGE)
    assert command_of(merged) == ["ls"]


def test_empty_string_entrypoint_as_a_string_resets_it() -> None:
    merged = merge_with_image({"Entrypoint": "", "Cmd": ["ls"]}, IMAGE)
    assert command_of(merged) == ["ls"]


def test_healthcheck_fields_are_filled_from_the_images() -> None:
    image = {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 5, "Retries": 3}}
    merged = merge_with_image({"Healthcheck": {"Interval": 9}}, image)
    assert merged["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 9, "Retries": 3}
    assert merge_with_image({}, image)["Healthcheck"] == image["Healthcheck"]


def test_a_lone_capability_string_is_a_list_of_one_as_strslice_reads_it() -> None:
    host: dict[str, object] = {"CapAdd": "NET_ADMIN", "CapDrop": ["CHOWN"]}
    check_types({}, host)
    assert host == {"CapAdd": ["NET_ADMIN"], "CapDrop": ["CHOWN"]}


def test_a_console_size_shorter_than_two_is_zero_filled_as_go_decodes_it() -> None:
    assert console_size({"ConsoleSize": [5]}) is None
    assert console_size({"ConsoleSize": [24, 80]}) == (24, 80)
    assert console_size({}) is None
