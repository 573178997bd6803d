"""Word processing of Dockerfile arguments: cases from buildkit's shell/envVarTest, wordsTest
and lex_test.go, and the examples of Docker's Dockerfile reference."""

from __future__ import annotations

import pytest

from engine.build.shell_lex import ShellLex, ShellLexError

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}

# (input, expected) from buildkit's envVarTest; None means an error.
WORDS = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", None),
    ("he\\'llo", "he'llo"),
    ("he\\\\'llo", None),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hello', None),
    ('"hello\\"', None),
    ('"hel\'lo"', "hel'lo"),
    ("'hello", None),
    ("'hello\\'", "hello\\"),
    ("'hello\\there'", "hello\\there"),
    ("\"''\"", "''"),
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("\\${}", "${}"),
    ("he\\${}xx", "he${}xx"),
    ("${}", None),
    ("he${}xx", None),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("he${.}", None),
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${XXX:YYY}", None),
    ("he${XXX?}", None),
    ("he${XXX:?}", None),
    ("he${PWD?}", "he/home"),
    ("he${NULL?}", "he"),
    ("he${NULL:?}", None),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("'he${XX}'", "he${XX}"),
    ("\"he'$PWD'\"", "he'/home'"),
    ("'\\$PWD'", "\\$PWD"),
    ("he${PWD", None),
    ("he${PWD:=000}xx", None),
    ("he${PWD:+${PWD}:}xx", "he/home:xx"),
    ("he${XXX:-\\$PWD:}xx", "he$PWD:xx"),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("안'녕'하세요", "안녕하세요"),
    ("안녕$KOREAN", "안녕한국어"),
    ("${{aaa}", None),
    ("${aaa}}", "}"),
    ("${aaa:-bbb}}", "bbb}"),
    ("${aaa:-bbb", None),
    ("${aaa:-bbb ${foo}", None),
    ("${aaa:-bbb {foo}", "bbb {foo"),
    ("${:}", None),
    ("${:-bbb}", None),
    # positional and special parameters are never set
    ("$1", ""),
    ("${999:-bbb}aaa", "bbbaaa"),
    ("$001aaa", "aaa"),
    ("$@@@", "@@"),
    ("${#:-bbb}", "bbb"),
    ("$$", ""),
    ("${!:+bbb}", ""),
    ("$0", ""),
]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_process_word(word: str, expected: str | None) -> None:
    lex = ShellLex()
    if expected is None:
        with pytest.raises(ShellLexError):
            lex.process_word(word, ENV)
    else:
        assert lex.process_word(word, ENV) == expected


# (input, expected words) from buildkit's wordsTest
SPLITS = [
    ("hello", ["hello"]),
    ("hello${hi}bye", ["hellohibye"]),
    ("hello${space}bye", ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["helloabc  defbye"]),
    ('hello "${space}"bye', ["hello", "abc  defbye"]),
    ("hello${leading}def", ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', ["hello  ab c", "def"]),
    ("hello${trailing}d", ["helloab", "c", "d"]),
    ('hello" there  "', ["hello there  "]),
    ("hello there     ", ["hello", "there"]),
    ("hello\\ there", ["hello there"]),
    ('hello\\" there', ['hello"', "there"]),
    ('hello"\\\\there"', ["hello\\there"]),
    ("hello'$there'", ["hello$there"]),
    ('a "" b', ["a", "b"]),  # an empty quoted word vanishes, as in buildkit
]


@pytest.mark.parametrize(("word", "expected"), SPLITS)
def test_process_words(word: str, expected: list[str]) -> None:
    env = {"hi": "hi", "space": "abc  def", "leading": "  ab c", "trailing": "ab c   "}
    assert ShellLex().process_words(word, env) == expected


def test_process_words_keeps_text_before_a_modifier_expansion() -> None:
    assert ShellLex().process_words("abc${X:-y z}def ghi", {}) == ["abcy", "zdef", "ghi"]


def test_process_words_errors() -> None:
    with pytest.raises(ShellLexError):
        ShellLex().process_words('hello" there', {})


def test_dockerfile_reference_examples() -> None:
    lex = ShellLex()
    env = {"FOO": "/bar", "string": "foobarbaz"}
    assert lex.process_word("${FOO}", env) == "/bar"
    assert lex.process_word("$FOO", env) == "/bar"
    assert lex.process_word("\\$FOO", env) == "$FOO"
    assert lex.process_word("${variable:-word}", env) == "word"
    assert lex.process_word("${FOO:+word}", env) == "word"
    assert lex.process_word("${variable:+word}", env) == ""
    assert lex.process_word("${string#*ba}", env) == "rbaz"
    assert lex.process_word("${string##*ba}", env) == "z"
    assert lex.process_word("${string%ba*}", env) == "foobar"
    assert lex.process_word("${string%%ba*}", env) == "foo"
    assert lex.process_word("${string/ba/fo}", env) == "fooforbaz"
    assert lex.process_word("${string//ba/fo}", env) == "fooforfoz"


def test_unset_versus_empty() -> None:
    lex = ShellLex()
    env = {"FOO": "xxx", "BAR": ""}
    assert lex.process_word("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", env) == "xxx  ccc"
    assert lex.process_word("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", env) == "xxx bbb ccc"
    assert lex.process_word("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", env) == "aaa bbb "
    assert lex.process_word("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", env) == "aaa  "
    assert lex.process_word("${BAR?bbb}", env) == ""


def test_mandatory_variables() -> None:
    lex = ShellLex()
    assert lex.process_word("${VAR:?message here$ARG}", {"VAR": "plain", "ARG": "x"}) == "plain"
    with pytest.raises(ShellLexError, match="VAR: message herex"):
        lex.process_word("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"})
    with pytest.raises(ShellLexError, match="VAR: message herex"):
        lex.process_word("${VAR?message here$ARG}", {"ARG": "x"})
    assert lex.process_word("${VAR?message}", {"VAR": ""}) == ""


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${VAR:?}", 'failed to process "${VAR:?}": VAR: is not allowed to be empty'),
        ("${UNSET?}", 'failed to process "${UNSET?}": UNSET: is not allowed to be unset'),
        ("a${VAR", "syntax error: missing '}'"),
        ("${VAR:-x", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:x}", "syntax error: bad substitution"),
        ("${VAR=x}", "unsupported modifier (=) in substitution"),
        ("${VAR:=x}", "unsupported modifier (:=) in substitution"),
        ("${VAR:#x}", "unsupported modifier (:#) in substitution"),
        ("${VAR/x}", "syntax error: missing '/' in ${}"),
        ("'abc", "unexpected end of statement while looking for matching single-quote"),
        ('"abc', "unexpected end of statement while looking for matching double-quote"),
        ("${VAR#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ],
)
def test_error_messages(word: str, message: str) -> None:
    with pytest.raises(ShellLexError) as caught:
        ShellLex().process_word(word, {"VAR": ""})
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("word", "value", "expected"),
    [
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", "()[]{}^$.*?|\\x", "x"),
        ("${FOO%%\\**}", "xx**", "xx"),
        ("${FOO#*x*y}", "xxyy", "y"),
        ("${FOO#*}", "xxyy", "xxyy"),
        ("${FOO#}", "xxyy", "xxyy"),
        ("${FOO##*x}", "xxyy", "yy"),
        ("${FOO#?\\?}", "???y", "?y"),
        ("${FOO%x}", "xxyy", "xxyy"),
        ("${FOO%%\\**\\*}", "a***yy*", "a"),
        ("${FOO%y}", "xxyy", "xxy"),
        ("${FOO/\\/tmp/}", "/tmp/tmp/bar.txt", "/tmp/bar.txt"),
        ("${FOO///}", "xxyy", "xxyy"),
        ("${FOO//\\//\\/}", "/tmp/foo.txt", "\\/tmp\\/foo.txt"),
        ("${FOO/?\\*/.}", "/foo*/*/*.txt", "/fo./*/*.txt"),
        ("${FOO/x/}", "xxyy", "xyy"),
        # Go's ReplaceAll: no second replacement for the empty match after ".*"
        ("${FOO//*/z}", "abc", "z"),
        ("${FOO/http:\\/\\//https://}", "http://google.de", "https://google.de"),
    ],
)
def test_patterns(word: str, value: str, expected: str) -> None:
    assert ShellLex().process_word(word, {"FOO": value}) == expected


def test_pattern_from_a_variable() -> None:
    env = {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"}
    word = "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}"
    assert ShellLex().process_word(word, env) == "/foo/b/c.txt - /foo/c.txt"


def test_matches() -> None:
    lex = ShellLex()
    env = {"FOO": "xxx", "BAR": ""}
    assert lex.process_word_with_matches("x ${FOO} $BAR ${BAZ}", env) == ("x xxx  ", {"FOO", "BAR"})
    assert lex.process_word_with_matches("plain", env) == ("plain", set())
    word = "something-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz"
    used = lex.process_word_with_matches(word, {"TARGETARCH": "arm", "TARGETVARIANT": "v7"})
    assert used == ("something-arm-v7.tar.gz", {"TARGETARCH", "TARGETVARIANT"})


def test_backtick_escape() -> None:
    lex = ShellLex("`")
    env = {"PWD": "/home"}
    assert lex.process_word("he`$PWD", env) == "he$PWD"
    assert lex.process_word("c:\\$PWD", env) == "c:\\/home"  # backslash is an ordinary char
    assert lex.process_word('"a`"b"', env) == 'a"b'
    assert lex.process_word('"a\\b"', env) == "a\\b"
    assert lex.process_words("a` b c", env) == ["a b", "c"]


def test_heredoc_markers_keep_their_spacing() -> None:
    # The parser finds "<< EOF" as one word.
    assert ShellLex().process_words("RUN << EOF cat", {}) == ["RUN", "<< EOF", "cat"]
    assert ShellLex().process_word("a < b", {}) == "a < b"


def test_raw_modes_for_heredoc_detection() -> None:
    lex = ShellLex(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    line = "RUN <<'EOF' cat $X ${Y:-z} \\$Q"
    assert lex.process_words(line, {}) == ["RUN", "<<'EOF'", "cat", "$X", "${Y:-z}", "\\$Q"]
