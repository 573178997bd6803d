"""Here-documents in RUN, COPY and ADD; cases from buildkit's parser_heredoc_test.go."""

from __future__ import annotations

import pytest

from engine.build.dockerfile import DockerfileError, Heredoc, parse
from engine.build.dockerfile_heredocs import HeredocMarker, heredoc_word, heredocs_in_line

DOCKERFILE = """
FROM alpine:3.6

ENV NAME=me

RUN ls

RUN <<EMPTY
EMPTY

RUN 3<<EMPTY2
EMPTY2

RUN "<<NOHEREDOC"

RUN <<INDENT
\tfoo
\tbar
INDENT

RUN <<-UNINDENT
\tbaz
\tquux
UNINDENT

RUN <<-UNINDENT2
\tbaz
\tquux
\tUNINDENT2

RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND

RUN <<COMMENT
# internal comment
echo hello world
echo foo bar # trailing comment
COMMENT

RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT

COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2

COPY <<X <<Y /dest
Y
X
X
Y

RUN <<COMPLEX python3
print('hello world')
COMPLEX

RUN <<eo'f'
echo foo
eof

RUN <<eo\\'f
echo foo
eo'f

RUN <<'e'o\\'f
echo foo
eo'f

RUN <<'one two'
echo bar
one two

RUN <<$EOF
$EOF

RUN <<  EOF  > foo
EOF
\t"""

EXPECTED: list[list[Heredoc]] = [
    [],  # ENV NAME=me
    [],  # RUN ls
    [Heredoc("EMPTY", "", True)],
    [Heredoc("EMPTY2", "", True)],
    [],  # RUN "<<NOHEREDOC"
    [Heredoc("INDENT", "\tfoo\n\tbar\n", True)],
    [Heredoc("UNINDENT", "baz\nquux\n", True)],
    [Heredoc("UNINDENT2", "baz\nquux\n", True)],
    [Heredoc("NOEXPAND", "don't expand $NAME\n", False)],
    [
        Heredoc(
            "COMMENT",
            "# internal comment\necho hello world\necho foo bar # trailing comment\n",
            True,
        )
    ],
    [Heredoc("MOUNT", "echo hello\n", True)],
    [Heredoc("FILE1", "content 1\n", True), Heredoc("FILE2", "content 2\n", True)],
    [Heredoc("X", "Y\n", True), Heredoc("Y", "X\n", True)],
    [Heredoc("COMPLEX", "print('hello world')\n", True)],
    [Heredoc("eof", "echo foo\n", False)],
    [Heredoc("eo'f", "echo foo\n", True)],
    [Heredoc("eo'f", "echo foo\n", False)],
    [Heredoc("one two", "echo bar\n", False)],
    [Heredoc("$EOF", "", True)],
    [Heredoc("EOF", "", True)],
]


def test_heredocs_are_read_and_their_bodies_are_not_instructions() -> None:
    insts = parse(DOCKERFILE).instructions
    assert insts[0].keyword == "FROM"
    assert [i.heredocs for i in insts[1:]] == EXPECTED
    copy = insts[12]
    assert (copy.keyword, copy.rest, copy.line, copy.end_line) == (
        "COPY",
        "<<FILE1 <<FILE2 /dest",
        45,
        49,
    )


def test_exec_form_has_no_heredocs() -> None:
    insts = parse('FROM a\nRUN ["whoami"]\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n').instructions
    assert [i.heredocs for i in insts] == [[], [], [], []]


def test_heredoc_with_the_backtick_escape_and_crlf() -> None:
    text = "# escape=`\r\nFROM a\r\nRUN <<EOF\r\necho `hi`\r\nEOF\r\nCMD x\r\n"
    insts = parse(text).instructions
    # Body lines keep their endings, as buildkit keeps them.
    assert insts[1].heredocs == [Heredoc("EOF", "echo `hi`\r\n", True)]
    assert (insts[2].keyword, insts[2].line) == ("CMD", 6)


def test_heredoc_at_the_end_without_a_newline() -> None:
    inst = parse("FROM a\nCOPY <<EOF /x\nhello\nEOF").instructions[1]
    assert (inst.heredocs, inst.end_line) == ([Heredoc("EOF", "hello\n", True)], 4)


def test_onbuild_trigger_keeps_its_bodies() -> None:
    inst = parse("FROM a\nONBUILD RUN <<-EOF\n\techo hi\n\tEOF\nCMD x\n").instructions[1]
    assert (inst.keyword, inst.line, inst.end_line, inst.heredocs) == ("ONBUILD", 2, 4, [])
    assert inst.rest == "RUN <<-EOF\n\techo hi\nEOF"
    trigger = parse(inst.rest).instructions[0]
    assert trigger.heredocs == [Heredoc("EOF", "echo hi\n", True)]


def test_only_run_copy_and_add_take_heredocs() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nUSER <<INVALID\nINVALID\n")
    assert (caught.value.line, caught.value.message) == (3, "unknown instruction: INVALID")


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nRUN <<EOF <<EOF2\nbody\nEOF\nbody2\n")
    assert (caught.value.line, caught.value.message) == (2, "unterminated heredoc")


@pytest.mark.parametrize(
    "word",
    [
        "<<EOF",
        "<<'EOF'",
        '<<"EOF"',
        "<<-EOF",
        "<<-'EOF'",
        '<<-"EOF"',
        '<<EO"F"',
        "<< EOF",
        "<<- EOF",
    ],
)
def test_heredoc_words(word: str) -> None:
    marker = heredoc_word(word)
    assert marker is not None
    assert marker.name == "EOF"
    assert marker.chomp == word.startswith("<<-")
    assert marker.expand == ("'" not in word and '"' not in word)


@pytest.mark.parametrize("word", ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"])
def test_not_heredoc_words(word: str) -> None:
    assert heredoc_word(word) is None


@pytest.mark.parametrize("word", ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"'])
def test_bad_heredoc_words(word: str) -> None:
    with pytest.raises(ValueError):
        heredoc_word(word)


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("RUN <<EOF", ["EOF"]),
        ("RUN <<-EOF", ["EOF"]),
        # "<<-" and "EOF" are two words here (buildkit's own test does not notice).
        ("RUN <<- EOF", []),
        ("RUN << -EOF", ["-EOF"]),
        ("RUN <<'EOF'", ["EOF"]),
        ("RUN 4<<EOF", ["EOF"]),
        ("RUN <<EOF <<EOF2", ["EOF", "EOF2"]),
        ("RUN '<<EOF'", []),
        ('RUN "<<EOF"', []),
        ("RUN echo it's <<EOF", []),  # the lexer can not split the line: no heredocs
    ],
)
def test_heredocs_in_line(line: str, names: list[str]) -> None:
    assert [m.name for m in heredocs_in_line(line)] == names


def test_marker_fields() -> None:
    assert heredocs_in_line("COPY <<-'a.txt' <<b.txt /d/") == [
        HeredocMarker("a.txt", chomp=True, expand=False),
        HeredocMarker("b.txt", chomp=False, expand=True),
    ]
