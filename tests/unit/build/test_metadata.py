"""engine.build.metadata: the instructions that change only the image config, and the history
text each one returns, checked against what dockerd's classic builder does."""

from __future__ import annotations

from typing import Any

import pytest

from engine.build.dockerfile import DockerfileError, Instruction, parse
from engine.build.metadata import HANDLERS, onbuild
from engine.build.stage import Stage
from engine.build.words import Words
from engine.errors import InvalidParameter


def build(dockerfile: str, config: dict[str, Any] | None = None, **args: str) -> Stage:
    stage = Stage(0, "", "base", config=dict(config or {}), args=dict(args))
    apply(stage, dockerfile)
    return stage


def apply(stage: Stage, dockerfile: str) -> list[str]:
    """Run each instruction's handler as the builder does: words see the stage's variables
    from before the instruction."""
    texts = []
    for inst in parse(dockerfile).instructions:
        words = Words(inst.escape, stage.expansion_env())
        texts.append(HANDLERS[inst.keyword](stage, inst, words))
    return texts


def history(dockerfile: str, config: dict[str, Any] | None = None) -> str:
    return apply(Stage(0, "", "base", config=dict(config or {})), dockerfile)[-1]


def test_every_config_instruction_has_a_handler() -> None:
    assert set(HANDLERS) == set(
        "ENV LABEL CMD ENTRYPOINT EXPOSE VOLUME USER STOPSIGNAL HEALTHCHECK SHELL ONBUILD "
        "MAINTAINER".split()
    )


# ENV


def test_env_forms_from_the_docs() -> None:
    stage = build('ENV MY_NAME="John Doe"\nENV MY_DOG=Rex\\ The\\ Dog\nENV MY_CAT=fluffy')
    assert stage.config["Env"] == ["MY_NAME=John Doe", "MY_DOG=Rex The Dog", "MY_CAT=fluffy"]
    assert history('ENV A=1 B="x y" C=z\\ w') == "ENV A=1 B=x y C=z w"


def test_env_pairs_see_the_environment_from_before_the_instruction() -> None:
    stage = Stage(0, "", "base")
    texts = apply(stage, "ENV A=1\nENV A=2 B=$A C=${A}0")
    assert stage.env == {"A": "2", "B": "1", "C": "10"}
    assert texts == ["ENV A=1", "ENV A=2 B=1 C=10"]


def test_legacy_env_takes_the_rest_of_the_line_as_value() -> None:
    stage = build("ENV MY_VAR my-value and  more")
    assert stage.env == {"MY_VAR": "my-value and  more"}
    assert history("ENV K v w") == "ENV K=v w"


def test_env_substitutes_args_and_env_wins_over_arg() -> None:
    stage = build("ENV FROM_ARG=$V ALT=${MISSING:-fallback}", V="1.0")
    assert stage.env == {"FROM_ARG": "1.0", "ALT": "fallback"}
    stage = build("ENV V=env\nENV SEEN=$V", V="arg")
    assert stage.env["SEEN"] == "env"


def test_env_overrides_an_inherited_value() -> None:
    stage = build("ENV HOME=/home/app", {"Env": ["PATH=/bin", "HOME=/root"]})
    assert stage.env == {"PATH": "/bin", "HOME": "/home/app"}


def test_env_override_keeps_the_variables_order() -> None:
    stage = build("ENV PATH=/opt/bin", {"Env": ["PATH=/bin", "HOME=/root"]})
    assert stage.config["Env"] == ["PATH=/opt/bin", "HOME=/root"]


def test_env_name_that_expands_to_nothing_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="ENV names can not be blank"):
        build("ENV $UNSET=x")


# LABEL


def test_label_quoting_from_the_docs() -> None:
    stage = build(
        'LABEL "com.example.vendor"="ACME Incorporated"\n'
        'LABEL com.example.label-with-value="foo"\n'
        'LABEL description="This text illustrates \\\nthat label-values can span lines."\n'
        'LABEL multi.label1="value1" multi.label2="value2" other="value3"\n'
        "LABEL single='$HOME' double=\"$HOME\"",
        {"Labels": {"inherited": "yes", "other": "old"}, "Env": ["HOME=/root"]},
    )
    assert stage.config["Labels"] == {
        "inherited": "yes",
        "com.example.vendor": "ACME Incorporated",
        "com.example.label-with-value": "foo",
        "description": "This text illustrates that label-values can span lines.",
        "multi.label1": "value1",
        "multi.label2": "value2",
        "other": "value3",
        "single": "$HOME",
        "double": "/root",
    }
    assert history('LABEL "com.example.vendor"="ACME Incorporated" v=1') == (
        "LABEL com.example.vendor=ACME Incorporated v=1"
    )


# CMD, ENTRYPOINT, SHELL


@pytest.mark.parametrize(
    ("line", "cmd", "text"),
    [
        ('CMD ["executable","param1"]', ["executable", "param1"], 'CMD ["executable" "param1"]'),
        (
            'CMD echo "This is a test." | wc -',
            ["/bin/sh", "-c", 'echo "This is a test." | wc -'],
            'CMD ["/bin/sh" "-c" "echo \\"This is a test.\\" | wc -"]',
        ),
        ("CMD echo $HOME", ["/bin/sh", "-c", "echo $HOME"], 'CMD ["/bin/sh" "-c" "echo $HOME"]'),
        ('CMD ["echo", "$HOME"]', ["echo", "$HOME"], 'CMD ["echo" "$HOME"]'),
    ],
)
def test_cmd_exec_and_shell_forms(line: str, cmd: list[str], text: str) -> None:
    stage = Stage(0, "", "base", config={"Env": ["HOME=/root"]})
    assert apply(stage, line) == [text]
    assert stage.config["Cmd"] == cmd
    assert stage.cmd_set


def test_shell_changes_the_shell_forms_only() -> None:
    stage = Stage(0, "", "base")
    texts = apply(stage, 'SHELL ["powershell", "-command"]\nCMD Write-Host hi\nENTRYPOINT ["x"]')
    assert stage.config["Shell"] == ["powershell", "-command"]
    assert stage.config["Cmd"] == ["powershell", "-command", "Write-Host hi"]
    assert stage.config["Entrypoint"] == ["x"]
    assert texts[0] == "SHELL [powershell -command]"
    stage = build("ENTRYPOINT exec top -b", {"Shell": ["/bin/bash", "-c"]})
    assert stage.config["Entrypoint"] == ["/bin/bash", "-c", "exec top -b"]


def test_shell_needs_the_json_form() -> None:
    with pytest.raises(DockerfileError, match="SHELL requires the arguments to be in JSON form"):
        build("SHELL /bin/bash -c")


def test_entrypoint_resets_an_inherited_cmd() -> None:
    stage = build('ENTRYPOINT ["top", "-b"]', {"Cmd": ["/bin/sh"]})
    assert stage.config["Entrypoint"] == ["top", "-b"]
    assert stage.config["Cmd"] is None
    assert history("ENTRYPOINT exec top -b") == 'ENTRYPOINT ["/bin/sh" "-c" "exec top -b"]'


def test_entrypoint_keeps_a_cmd_set_in_the_stage() -> None:
    stage = build('CMD ["-c"]\nENTRYPOINT ["top", "-b"]', {"Cmd": ["/bin/sh"]})
    assert stage.config["Cmd"] == ["-c"]


def test_bare_entrypoint_clears_it() -> None:
    stage = build("ENTRYPOINT", {"Entrypoint": ["/init"], "Cmd": ["x"]})
    assert stage.config["Entrypoint"] is None
    assert stage.config["Cmd"] is None
    assert history("ENTRYPOINT") == "ENTRYPOINT []"


def test_empty_exec_entrypoint_is_null() -> None:
    assert build("ENTRYPOINT []", {"Entrypoint": ["/init"]}).config["Entrypoint"] is None


def test_empty_cmd_does_not_count_as_set() -> None:
    assert build('CMD []\nENTRYPOINT ["top"]').config["Cmd"] is None


# EXPOSE


def test_expose_ports_ranges_and_protocols() -> None:
    stage = build("EXPOSE 80/tcp 80/udp\nEXPOSE 7000-7002 53/UDP", {"ExposedPorts": {"22/tcp": {}}})
    assert set(stage.config["ExposedPorts"]) == {
        "22/tcp", "80/tcp", "80/udp", "7000/tcp", "7001/tcp", "7002/tcp", "53/udp",
    }  # fmt: skip
    assert history("EXPOSE 80/udp 80/tcp") == "EXPOSE 80/tcp 80/udp"


def test_expose_splits_a_variable_into_ports() -> None:
    stage = build('ENV PORTS="80 443"\nEXPOSE $PORTS')
    assert set(stage.config["ExposedPorts"]) == {"80/tcp", "443/tcp"}


def test_expose_history_keeps_the_ports_as_written() -> None:
    assert history("EXPOSE 80 7000-7001 443/udp") == "EXPOSE 443/udp 7000-7001 80"


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("abc", "invalid containerPort: abc"),
        ("65536", "invalid containerPort: 65536"),
        ("80-70", "invalid containerPort: 80-70"),
        ("80/xyz", "invalid proto: xyz"),
        ("$UNSET", "EXPOSE requires at least one argument"),
    ],
)
def test_expose_refuses_bad_ports(ports: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        build(f"EXPOSE {ports}")


# VOLUME, USER, STOPSIGNAL


def test_volume_json_and_words() -> None:
    stage = Stage(0, "", "base", config={"Volumes": {"/old": {}}, "Env": ["D=/data"]})
    texts = apply(stage, 'VOLUME ["/var/log", "$D"]\nVOLUME /var/db $D/x')
    assert set(stage.config["Volumes"]) == {"/old", "/var/log", "/data", "/var/db", "/data/x"}
    assert texts == ["VOLUME [/var/log /data]", "VOLUME [/var/db /data/x]"]


@pytest.mark.parametrize("line", ['VOLUME ["$UNSET"]', 'VOLUME ["/a", " "]'])
def test_volume_refuses_empty_paths(line: str) -> None:
    with pytest.raises((InvalidParameter, DockerfileError), match="can not be an empty string"):
        build(line)


def test_user() -> None:
    assert build("USER patrick").config["User"] == "patrick"
    stage = Stage(0, "", "base", args={"UID": "1000"})
    assert apply(stage, "USER ${UID}:${UID}") == ["USER 1000:1000"]
    assert stage.config["User"] == "1000:1000"
    with pytest.raises(DockerfileError, match="USER requires exactly one argument"):
        build("USER")


def test_user_that_expands_to_nothing() -> None:
    assert build("USER $NAME").config["User"] == ""


@pytest.mark.parametrize("sig", ["SIGKILL", "9", "SIGRTMIN+3", "TERM"])
def test_stopsignal(sig: str) -> None:
    stage = Stage(0, "", "base")
    assert apply(stage, f"STOPSIGNAL {sig}") == [f"STOPSIGNAL {sig}"]
    assert stage.config["StopSignal"] == sig


def test_stopsignal_refuses_an_unknown_name() -> None:
    with pytest.raises(InvalidParameter, match="Invalid signal: SIGFOO"):
        build("STOPSIGNAL SIGFOO")
    assert build("ENV S=SIGQUIT\nSTOPSIGNAL $S").config["StopSignal"] == "SIGQUIT"


# HEALTHCHECK


def test_healthcheck_shell_form_from_the_docs() -> None:
    stage = Stage(0, "", "base")
    texts = apply(
        stage, "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1"
    )
    assert stage.config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
        "Interval": 300_000_000_000,
        "Timeout": 3_000_000_000,
    }
    assert texts == [
        'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] '
        '"5m0s" "3s" "0s" "0s" \'\\x00\'}'
    ]


def test_healthcheck_exec_form_with_every_flag() -> None:
    stage = Stage(0, "", "base")
    texts = apply(
        stage,
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5ms "
        '--start-interval=2s --retries=3 cmd ["curl", "-f", "http://x/"]',
    )
    assert stage.config["Healthcheck"] == {
        "Test": ["CMD", "curl", "-f", "http://x/"],
        "Interval": 30_000_000_000,
        "Timeout": 90_000_000_000,
        "StartPeriod": 1_500_000,
        "StartInterval": 2_000_000_000,
        "Retries": 3,
    }
    assert texts == [
        'HEALTHCHECK &{["CMD" "curl" "-f" "http://x/"] "30s" "1m30s" "1.5ms" "2s" \'\\x03\'}'
    ]


def test_healthcheck_none_disables_an_inherited_check() -> None:
    inherited = {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 2}}
    stage = Stage(0, "", "base", config=inherited)
    assert apply(stage, "HEALTHCHECK NONE") == [
        'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
    ]
    assert stage.config["Healthcheck"] == {"Test": ["NONE"]}


def test_healthcheck_zero_duration_means_the_default() -> None:
    check = build("HEALTHCHECK --interval=0s CMD true").config["Healthcheck"]
    assert check.get("Interval", 0) == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--interval=5", 'time: missing unit in duration "5"'),
        ("--interval=abc", 'time: invalid duration "abc"'),
        ("--timeout=500us", "cannot be less than 1ms"),
        ("--start-period=-1s", "cannot be less than 1ms"),
        ("--retries=-1", "--retries cannot be negative"),
        ("--retries=x", "retries"),
    ],
)
def test_healthcheck_refuses_bad_flags(flags: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        build(f"HEALTHCHECK {flags} CMD true")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("HEALTHCHECK --foo=1 CMD true", "unknown flag: --foo"),
        ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK NONE true", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK PING x", "Unknown type"),
    ],
)
def test_healthcheck_refused_by_the_parser(line: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        build(line)


def test_healthcheck_history_prints_retries_as_go_does() -> None:
    assert history("HEALTHCHECK --retries=65 CMD true").endswith(" 'A'}")


def test_healthcheck_type_followed_by_a_tab() -> None:
    stage = build("HEALTHCHECK CMD\tcurl -f http://x/")
    assert stage.config["Healthcheck"]["Test"] == ["CMD-SHELL", "curl -f http://x/"]


# ONBUILD, MAINTAINER


def test_onbuild_triggers_from_the_docs() -> None:
    stage = Stage(0, "", "base", config={"OnBuild": ["RUN true"]})
    texts = apply(
        stage, "ONBUILD ADD . /app/src\nONBUILD RUN /usr/local/bin/python-build --dir /app/src"
    )
    assert stage.config["OnBuild"] == [
        "RUN true",
        "ADD . /app/src",
        "RUN /usr/local/bin/python-build --dir /app/src",
    ]
    assert texts == [
        "ONBUILD ADD . /app/src",
        "ONBUILD RUN /usr/local/bin/python-build --dir /app/src",
    ]


def test_onbuild_keeps_here_documents_for_the_trigger() -> None:
    stage = build("ONBUILD RUN <<EOF\necho hi\nEOF")
    assert stage.config["OnBuild"] == ["RUN <<EOF\necho hi\nEOF"]
    assert parse(stage.config["OnBuild"][0]).instructions[0].heredocs[0].content == "echo hi\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM alpine", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD maintainer me", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_onbuild_forbidden_triggers(line: str, message: str) -> None:
    with pytest.raises(DockerfileError, match=message):
        build(line)


@pytest.mark.parametrize("trigger", ["FROM alpine", "onbuild RUN x", "MAINTAINER me"])
def test_onbuild_handler_refuses_forbidden_triggers_itself(trigger: str) -> None:
    inst = Instruction("ONBUILD", 1, 1, f"ONBUILD {trigger}", [], trigger, None)
    with pytest.raises(InvalidParameter, match="isn't allowed as an ONBUILD trigger"):
        onbuild(Stage(0, "", "base"), inst, Words("\\", {}))


@pytest.mark.parametrize(
    ("line", "trigger"),
    [("ONBUILD run  echo hi", "run  echo hi"), ("ONBUILD RUN\techo hi", "RUN\techo hi")],
)
def test_onbuild_trigger_is_kept_as_written(line: str, trigger: str) -> None:
    assert build(line).config["OnBuild"] == [trigger]


def test_maintainer() -> None:
    stage = Stage(0, "", "base")
    assert apply(stage, "MAINTAINER Jane Doe <jane@example.com>") == [
        "MAINTAINER Jane Doe <jane@example.com>"
    ]
    assert stage.author == "Jane Doe <jane@example.com>"
    assert "Author" not in stage.config


@pytest.mark.parametrize(
    "text", ["Seán O'Brien <sob@example.com>", '"Jane Doe" <jane@example.com>', "$USER"]
)
def test_maintainer_text_is_not_processed(text: str) -> None:
    assert build(f"MAINTAINER {text}", {"Env": ["USER=x"]}).author == text
