"""Parsing Dockerfiles: every instruction, directives, continuations, exec and shell forms,
and the errors buildkit reports before a build starts (with their line numbers)."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import (
    DockerfileError,
    Instruction,
    arg_definitions,
    fields,
    key_values,
    parse,
    parse_flags,
    words,
)
from engine.build.dockerfile_words import split_command

WIDE = """\
# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=alpine:3.19
FROM --platform=linux/amd64 ${BASE} AS build
MAINTAINER Jane Doe <jane@example.com>
LABEL org.opencontainers.image.title="the app" version=1.0
ENV LANG C.UTF-8 and more
ENV A=1 B="x y" C=z\\ w
ARG VERSION
ARG USER_ID=1000 GROUP_ID=1000
WORKDIR /app
USER ${USER_ID}:${GROUP_ID}
RUN apk add --no-cache \\
    # comments inside a continued instruction are dropped
    curl \\
    git
RUN ["/bin/sh", "-c", "echo exec form"]
COPY --from=build --chown=1000:1000 --chmod=755 a.txt b.txt /app/
ADD --link https://example.com/file.tgz /tmp/
COPY ["with space.txt", "/dest dir/"]
EXPOSE 80/tcp 443
VOLUME ["/data", "/logs"]
VOLUME /cache /tmp/x
CMD ["app", "--serve"]
ENTRYPOINT exec app
HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost/ || exit 1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
STOPSIGNAL SIGTERM
ONBUILD RUN echo triggered
onbuild copy . /src
"""


def test_wide_dockerfile() -> None:
    parsed = parse(WIDE)
    assert parsed.escape == "\\"
    assert parsed.warnings == []
    got = [(i.keyword, i.line, i.end_line, i.flags, i.rest, i.json) for i in parsed.instructions]
    assert got == [
        ("ARG", 3, 3, [], "BASE=alpine:3.19", None),
        ("FROM", 4, 4, ["--platform=linux/amd64"], "${BASE} AS build", None),
        ("MAINTAINER", 5, 5, [], "Jane Doe <jane@example.com>", None),
        ("LABEL", 6, 6, [], 'org.opencontainers.image.title="the app" version=1.0', None),
        ("ENV", 7, 7, [], "LANG C.UTF-8 and more", None),
        ("ENV", 8, 8, [], 'A=1 B="x y" C=z\\ w', None),
        ("ARG", 9, 9, [], "VERSION", None),
        ("ARG", 10, 10, [], "USER_ID=1000 GROUP_ID=1000", None),
        ("WORKDIR", 11, 11, [], "/app", None),
        ("USER", 12, 12, [], "${USER_ID}:${GROUP_ID}", None),
        ("RUN", 13, 16, [], "apk add --no-cache     curl     git", None),
        (
            "RUN",
            17,
            17,
            [],
            '["/bin/sh", "-c", "echo exec form"]',
            ["/bin/sh", "-c", "echo exec form"],
        ),
        (
            "COPY",
            18,
            18,
            ["--from=build", "--chown=1000:1000", "--chmod=755"],
            "a.txt b.txt /app/",
            None,
        ),
        ("ADD", 19, 19, ["--link"], "https://example.com/file.tgz /tmp/", None),
        ("COPY", 20, 20, [], '["with space.txt", "/dest dir/"]', ["with space.txt", "/dest dir/"]),
        ("EXPOSE", 21, 21, [], "80/tcp 443", None),
        ("VOLUME", 22, 22, [], '["/data", "/logs"]', ["/data", "/logs"]),
        ("VOLUME", 23, 23, [], "/cache /tmp/x", None),
        ("CMD", 24, 24, [], '["app", "--serve"]', ["app", "--serve"]),
        ("ENTRYPOINT", 25, 25, [], "exec app", None),
        (
            "HEALTHCHECK",
            26,
            26,
            ["--interval=30s", "--timeout=3s"],
            "CMD curl -f http://localhost/ || exit 1",
            None,
        ),
        (
            "SHELL",
            27,
            27,
            [],
            '["/bin/bash", "-o", "pipefail", "-c"]',
            ["/bin/bash", "-o", "pipefail", "-c"],
        ),
        ("STOPSIGNAL", 28, 28, [], "SIGTERM", None),
        ("ONBUILD", 29, 29, [], "RUN echo triggered", None),
        ("ONBUILD", 30, 30, [], "copy . /src", None),
    ]
    run = parsed.instructions[10]
    assert run.original == "RUN apk add --no-cache     curl     git"
    assert parsed.instructions[-1].original == "onbuild copy . /src"


def test_helpers_on_the_wide_dockerfile() -> None:
    insts = parse(WIDE).instructions
    assert key_values(insts[3]) == [
        ("org.opencontainers.image.title", '"the app"'),
        ("version", "1.0"),
    ]
    # The legacy form: the first word has no "=", so the rest of the line is the value.
    assert key_values(insts[4]) == [("LANG", "C.UTF-8 and more")]
    assert key_values(insts[5]) == [("A", "1"), ("B", '"x y"'), ("C", "z\\ w")]
    assert arg_definitions(insts[0]) == [("BASE", "alpine:3.19")]
    assert arg_definitions(insts[6]) == [("VERSION", None)]
    assert key_values(insts[6]) == [("VERSION", "")]
    assert arg_definitions(insts[7]) == [("USER_ID", "1000"), ("GROUP_ID", "1000")]
    assert parse_flags(insts[12], {"from": str, "chown": str, "chmod": str, "link": bool}) == {
        "from": "build",
        "chown": "1000:1000",
        "chmod": "755",
    }
    assert parse_flags(insts[13], {"link": bool, "chmod": str}) == {"link": True}
    assert fields(insts[1].rest) == ["${BASE}", "AS", "build"]


def test_backtick_escape_directive() -> None:
    text = (
        "# escape=`\n\nFROM windowsservercore\nCOPY testfile.txt c:\\\n"
        "RUN dir c:\\ `\n  && echo `\n  done\n"
    )
    parsed = parse(text)
    assert parsed.escape == "`"
    copy, run = parsed.instructions[1:]
    assert copy.rest == "testfile.txt c:\\"
    assert (run.rest, run.line, run.end_line) == ("dir c:\\   && echo   done", 5, 7)
    assert run.escape == "`"


@pytest.mark.parametrize(
    "head",
    [
        "# Comment here\n# escape = `\n",  # after another comment: just a comment
        "\n# escape=`\n",  # after a blank line too
        "FROM a\n# escape=`\n",
    ],
)
def test_escape_directive_only_at_the_very_top(head: str) -> None:
    parsed = parse(head + "FROM image\nENV GOPATH \\\n\\go\n")
    assert parsed.escape == "\\"
    assert parsed.instructions[-1].rest == "GOPATH \\go"


def test_directives_case_and_spacing() -> None:
    assert parse("#ESCAPE = `\nFROM a\n").escape == "`"
    assert parse("# syntax=docker/dockerfile:1\n# Escape=`\nFROM a\n").escape == "`"
    assert parse("# check=skip=all\n#escape=`\nFROM a\n").escape == "`"


def test_directive_errors() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("# escape=x\nFROM a\n")
    assert (caught.value.line, caught.value.message) == (
        1,
        "invalid escape token 'x' does not match ` or \\",
    )
    with pytest.raises(DockerfileError, match="only one escape parser directive can be used"):
        parse("# escape=\\\n# ESCAPE=`\nFROM a\n")


def test_continuations() -> None:
    text = (
        "FROM a\n"
        "RUN echo one \\  \n"  # whitespace after the escape character is allowed
        "  two \\\n"
        "# a comment line\n"
        "    # an indented comment line\n"
        "three\n"
        "RUN echo \\\\\n"  # an escaped escape character does not continue the line
        "CMD x \\"  # continued into the end of the file
    )
    _, run, run2, cmd = parse(text).instructions
    assert (run.rest, run.line, run.end_line) == ("echo one   two three", 2, 6)
    assert run2.rest == "echo \\\\"
    assert (cmd.rest, cmd.line) == ("x", 8)


def test_empty_continuation_lines_warn() -> None:
    text = (
        "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n"
        "    following \\\n\n    more\n\nRUN another \\\n\n    thing\n\n"
        "RUN non-indented \\\n# this is a comment\n   after-comment\n"
    )
    parsed = parse(text)
    assert parsed.warnings == [
        "Empty continuation line found in: RUN something     following     more",
        "Empty continuation line found in: RUN another     thing",
    ]
    assert parsed.instructions[-1].rest == "non-indented    after-comment"


def test_line_numbers_with_blank_lines_and_comments() -> None:
    text = (
        "# ESCAPE=\\\n\n\n\nFROM brimstone/ubuntu:14.04\n\n\n# TORUN -v /x:/x\n\n\n"
        "ENV GOPATH \\\n/go\n\n\n\n# Install\nRUN apt-get update \\\n"
        "\t&& dpkg -l \\\n\n\n    && apt-get clean\n"
    )
    parsed = parse(text)
    assert [(i.line, i.end_line) for i in parsed.instructions] == [(5, 5), (11, 12), (17, 21)]


def test_crlf_bom_bytes_and_no_final_newline() -> None:
    text = '\ufeffFROM a\r\nRUN echo a \\\r\n  b\r\nCMD ["x"]'.encode()
    parsed = parse(text)
    assert [(i.keyword, i.rest) for i in parsed.instructions] == [
        ("FROM", "a"),
        ("RUN", "echo a   b"),
        ("CMD", '["x"]'),
    ]
    assert parsed.instructions[2].json == ["x"]
    assert parse(b"\xef\xbb\xbf# escape=`\nFROM a").escape == "`"


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ('["echo", "hi"]', ["echo", "hi"]),
        ('  [ "a" , "b" ]  ', ["a", "b"]),
        ("[]", []),
        ('["\\u2665", "\\" \\\\ / \\n"]', ["♥", '" \\ / \n']),
        # not JSON: the shell form
        ("['single', 'quotes']", None),
        ('["unterminated"', None),
        ('["unterminated]', None),
        ('[ "json inside string" ] extra', None),
        ("[NaN]", None),
        ("echo [not json]", None),
    ],
)
def test_exec_or_shell_form(rest: str, expected: list[str] | None) -> None:
    inst = parse(f"CMD {rest}\n").instructions[0]
    assert inst.json == expected
    assert inst.rest == rest.strip()


def test_json_only_for_instructions_that_take_it() -> None:
    insts = parse('HEALTHCHECK CMD ["a"]\nLABEL x=["a"]\nWORKDIR ["a"]\n').instructions
    assert [i.json for i in insts] == [None, None, None]


@pytest.mark.parametrize("keyword", ["CMD", "RUN", "COPY", "VOLUME", "HEALTHCHECK CMD"])
def test_json_array_of_non_strings_is_an_error(keyword: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse(f'FROM a\n{keyword} ["a", 1]\n')
    assert caught.value.line == 2
    assert "arrays must be comprised of strings only" in caught.value.message


@pytest.mark.parametrize(
    ("line", "flags", "rest"),
    [
        ("COPY foo /tmp/", [], "foo /tmp/"),
        ("COPY --user=me --doit=true foo /tmp/", ["--user=me", "--doit=true"], "foo /tmp/"),
        ("COPY --doit=true -- foo /tmp/", ["--doit=true"], "foo /tmp/"),
        ("COPY -- foo /tmp/", [], "foo /tmp/"),
        ('CMD --doit [ "a", "b" ]', ["--doit"], '[ "a", "b" ]'),
        ("CMD --doit -- [ ]", ["--doit"], "[ ]"),
        ("COPY --chown=\"a b\" --x='c\\d' x y", ["--chown=a b", "--x=cd"], "x y"),
        ("COPY -x --y z", [], "-x --y z"),
        (
            "RUN --mount=type=cache,target=/root/.cache pip install",
            ["--mount=type=cache,target=/root/.cache"],
            "pip install",
        ),
    ],
)
def test_flags_are_split_off(line: str, flags: list[str], rest: str) -> None:
    assert split_command(line, "\\") == (line.split()[0], flags, rest)


def test_words_keeps_quotes() -> None:
    assert words("foo bar 'abc xyz'", "\\") == ["foo", "bar", "'abc xyz'"]
    assert words('foo bar "abc xyz"', "\\") == ["foo", "bar", '"abc xyz"']
    assert words("foo\\ bar", "\\") == ["foo\\ bar"]
    assert words('föo bàr "âbc xÿz"', "\\") == ["föo", "bàr", '"âbc xÿz"']
    assert words('a "" b', "\\") == ["a", '""', "b"]
    assert words("a` b", "`") == ["a` b"]
    assert words("  ", "\\") == []


def instruction(text: str) -> Instruction:
    return parse(text).instructions[-1]


def test_key_values_forms() -> None:
    assert key_values(instruction("ENV name value")) == [("name", "value")]
    assert key_values(instruction("ENV name=value name2=value2")) == [
        ("name", "value"),
        ("name2", "value2"),
    ]
    assert key_values(instruction("ENV name='a\\'b''")) == [("name", "'a\\'b''")]
    assert key_values(instruction("ENV name=\"value'quote space'value2\"")) == [
        ("name", "\"value'quote space'value2\"")
    ]
    assert key_values(instruction("LABEL maintainer foo@bar.com")) == [
        ("maintainer", "foo@bar.com")
    ]
    assert key_values(instruction('ENV a=1 \\\n    b="x \\\n       y"')) == [
        ("a", "1"),
        ("b", '"x        y"'),
    ]


def error_of(text: str) -> tuple[int, str]:
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    return caught.value.line, caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 0, "file with no instructions"),
        ("# only\n\n# comments\n", 3, "file with no instructions"),
        ("FROM a\nFRM b\n", 2, "unknown instruction: FRM (did you mean FROM?)"),
        ("FROM a\nfrm b\n", 2, "unknown instruction: frm (did you mean from?)"),
        ("FROM a\n\nBOGUS b\n", 3, "unknown instruction: BOGUS"),
        ("FROM a b\n", 1, "FROM requires either one or three arguments"),
        ("FROM\n", 1, "FROM requires either one or three arguments"),
        ("FROM a TO b\n", 1, "FROM requires either one or three arguments"),
        (
            "FROM a AS 1st\n",
            1,
            'invalid name for build stage: "1st", '
            "name can't start with a number or contain symbols",
        ),
        ("FROM --platfrom=x a\n", 1, "unknown flag: --platfrom (did you mean platform?)"),
        ("FROM a\nCOPY --chwon=1 a b\n", 2, "unknown flag: --chwon (did you mean chown?)"),
        ("FROM a\nCOPY --from a b\n", 2, "missing a value on flag: --from"),
        ("FROM a\nCOPY --from=x --from=y a b\n", 2, "duplicate flag specified: --from"),
        (
            "FROM a\nADD --link=maybe a b\n",
            2,
            "expecting boolean value for flag --link, not: maybe",
        ),
        ("FROM a\nENV --x=1 A=1\n", 2, "unknown flag: --x"),
        (
            "FROM a\nCOPY a\n",
            2,
            "COPY requires at least two arguments, but only one was "
            "provided. Destination could not be determined",
        ),
        (
            "FROM a\nADD\n",
            2,
            "ADD requires at least two arguments, but only one was "
            "provided. Destination could not be determined",
        ),
        ("FROM a\nCOPY a <<EOF\nEOF\n", 2, "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nENV\n", 2, "ENV requires at least one argument"),
        ("FROM a\nENV A\n", 2, "ENV must have two arguments"),
        ("FROM a\nLABEL A\n", 2, "LABEL must have two arguments"),
        (
            "FROM a\nENV A=1 B\n",
            2,
            'Syntax error - can\'t find = in "B". Must be of the form: name=value',
        ),
        ("FROM a\nLABEL =x\n", 2, "LABEL names can not be blank"),
        ("FROM a\nARG\n", 2, "ARG requires at least one argument"),
        ("FROM a\nARG =x\n", 2, "ARG names can not be blank"),
        ("FROM a\nMAINTAINER\n", 2, "MAINTAINER requires exactly one argument"),
        ("FROM a\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
        ("FROM a\nUSER\n", 2, "USER requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME\n", 2, "VOLUME requires at least one argument"),
        ('FROM a\nVOLUME ["/a", " "]\n', 2, "VOLUME specified can not be an empty string"),
        ("FROM a\nSHELL\n", 2, "SHELL requires at least one argument"),
        ("FROM a\nSHELL []\n", 2, "SHELL requires at least one argument"),
        ("FROM a\nSHELL /bin/sh -c\n", 2, "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nHEALTHCHECK\n", 2, "HEALTHCHECK requires at least one argument"),
        ("FROM a\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK CMD []\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK connect tcp\n", 2, 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        (
            "FROM a\nHEALTHCHECK --intervl=1s CMD x\n",
            2,
            "unknown flag: --intervl (did you mean interval?)",
        ),
        ("FROM a\nONBUILD\n", 2, "ONBUILD requires at least one argument"),
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            2,
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("FROM a\nONBUILD from b\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD MAINTAINER me\n", 2, "MAINTAINER isn't allowed as an ONBUILD trigger"),
        (
            'FROM a\nONBUILD CMD ["a", 1]\n',
            2,
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("FROM a\nRUN --foo x\n", 2, "unknown flag: --foo"),
        ("FROM a\nRUN <<EOF\nabc\n", 2, "unterminated heredoc"),
    ],
)
def test_errors_and_their_lines(text: str, line: int, message: str) -> None:
    assert error_of(text) == (line, message)


def test_parser_errors_come_before_instruction_errors() -> None:
    # As in buildkit: the whole file is parsed before any instruction is checked.
    assert error_of("FROM a\nFRM b\nENV A\n") == (3, "ENV must have two arguments")
    assert error_of("FROM a\nFRM b\nUSER\n") == (2, "unknown instruction: FRM (did you mean FROM?)")


def test_error_lines_inside_continuations_are_the_first_line() -> None:
    assert error_of("FROM a\nRUN ok\nCOPY \\\n  --chwon=1 \\\n  a b\n")[0] == 3


def test_dockerfile_error() -> None:
    err = DockerfileError(7, "unknown instruction: FRM")
    assert isinstance(err, ValueError)
    assert (err.line, err.message) == (7, "unknown instruction: FRM")
    assert str(err) == "dockerfile parse error on line 7: unknown instruction: FRM"


def test_accepted_oddities() -> None:
    # Instructions buildkit accepts as they are; the builder decides what they mean.
    insts = parse(
        "FROM a\nRUN\nCMD\nENTRYPOINT []\nHEALTHCHECK NONE\nSTOPSIGNAL --x=y 9\n"
        "COPY --parents --exclude=*.md --exclude=*.txt a b\nRUN --mount=type=cache,target=/c x\n"
    ).instructions
    assert [(i.keyword, i.rest, i.json) for i in insts[1:5]] == [
        ("RUN", "", None),
        ("CMD", "", None),
        ("ENTRYPOINT", "[]", []),
        ("HEALTHCHECK", "NONE", None),
    ]
    assert parse_flags(insts[6], {"exclude": list, "parents": bool}) == {
        "exclude": ["*.md", "*.txt"],
        "parents": True,
    }


def test_parse_flags_for_the_builder() -> None:
    inst = instruction("FROM a\nCOPY --link=false --chmod=644 a b\n")
    assert parse_flags(inst, {"link": bool, "chmod": str}) == {"link": False, "chmod": "644"}
    assert parse_flags(instruction("FROM a\nCOPY a b\n"), {"link": bool}) == {}
    # The builder may carry out fewer flags than the parser knows.
    with pytest.raises(DockerfileError) as caught:
        parse_flags(inst, {"chmod": str})
    assert (caught.value.line, caught.value.message) == (2, "unknown flag: --link")


def test_onbuild_keeps_the_raw_trigger() -> None:
    inst = instruction('FROM a\nONBUILD  ADD --chown=1:1 "a b" /c  \n')
    assert (inst.keyword, inst.flags, inst.rest) == ("ONBUILD", [], 'ADD --chown=1:1 "a b" /c')
    trigger = parse(inst.rest).instructions[0]
    assert (trigger.keyword, trigger.flags, trigger.rest) == ("ADD", ["--chown=1:1"], '"a b" /c')


def test_edge_cases_from_buildkit() -> None:
    text = (
        'FROM busybox\n\n# RUN Commands \\\n# linebreak in comment \\\nRUN ["ls", "-la"]\n'
        "RUN    sh -c 'echo root:testpass \\\n        > /tmp/passwd'\n"
        'ENV SCUBA "1 DUBA 3"\n#EXPOSE\\\nEXPOSE 3000\n'
        'CMD [ "\\/usr\\\\\\"/bin/znc", "-f", "-r" ]\n'
    )
    insts = parse(text).instructions
    assert [(i.keyword, i.line, i.rest, i.json) for i in insts[1:]] == [
        ("RUN", 5, '["ls", "-la"]', ["ls", "-la"]),
        ("RUN", 6, "sh -c 'echo root:testpass         > /tmp/passwd'", None),
        ("ENV", 8, 'SCUBA "1 DUBA 3"', None),
        ("EXPOSE", 10, "3000", None),
        ("CMD", 11, '[ "\\/usr\\\\\\"/bin/znc", "-f", "-r" ]', ['/usr\\"/bin/znc', "-f", "-r"]),
    ]
    assert key_values(insts[3]) == [("SCUBA", '"1 DUBA 3"')]
