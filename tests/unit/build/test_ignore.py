"""engine.build.ignore: .dockerignore read as the docker CLI reads it, matched as patternmatcher
matches (MatchesOrParentMatches)."""

from __future__ import annotations

import pytest

from engine.build.ignore import PatternMatcher, read_patterns
from engine.errors import InvalidParameter


def test_read_patterns_skips_comments_and_blank_lines_and_cleans() -> None:
    text = (
        "\ufeff# a comment\n"
        "\n"
        "   \n"
        "  node_modules/  \n"
        "/abs/path\n"
        "a/./b/../c\n"
        "!  /keep/me/\n"
        "  # not a comment: the line does not start with #\n"
        "windows\r\n"
        "/\n"
    )
    assert read_patterns(text) == [
        "node_modules",
        "abs/path",
        "a/c",
        "!keep/me",
        "# not a comment: the line does not start with #",
        "windows",
        "/",
    ]


def test_read_patterns_of_an_empty_file() -> None:
    assert read_patterns("") == []
    assert read_patterns("\n# only comments\n") == []


# patternmatcher's own table (TestMatches): exact and inexact both mean "excluded".
PATTERNMATCHER_CASES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**", "dir/file", True),
    ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    # a pattern naming a directory excludes what is below it
    ("docs", "docs/README.md", True),
    ("a*", "ab/c", True),
    ("a*/b", "a/c/b", False),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), PATTERNMATCHER_CASES)
def test_patternmatcher_table(pattern: str, path: str, excluded: bool) -> None:
    assert PatternMatcher([pattern]).excluded(path) is excluded


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
        (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs/", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/README.md", False),
        (["*.go", "!fileutils.go"], "fileutils.go", False),
        (["!fileutils.go", "*.go"], "fileutils.go", True),
        ([], "any/path", False),
    ],
)
def test_the_last_matching_pattern_wins(patterns: list[str], path: str, excluded: bool) -> None:
    assert PatternMatcher(patterns).excluded(path) is excluded


DOCS_EXAMPLE = """\
# comment
*/temp*
*/*/temp*
temp?
"""


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("somedir/temporary.txt", True),
        ("somedir/temp", True),
        ("somedir/subdir/temporary.txt", True),
        ("tempa", True),
        ("tempb", True),
        ("temporary.txt", False),  # temp? is one character
        ("temp", False),
        ("a/b/c/temp.txt", False),  # three levels down: no pattern reaches it
        ("comment", False),
    ],
)
def test_docker_documentation_example(path: str, excluded: bool) -> None:
    assert PatternMatcher(read_patterns(DOCS_EXAMPLE)).excluded(path) is excluded


def test_docker_documentation_double_star() -> None:
    matcher = PatternMatcher(read_patterns("**/*.go\n"))
    assert matcher.excluded("main.go")
    assert matcher.excluded("pkg/sub/x.go")
    assert not matcher.excluded("pkg/sub/x.gox")


def test_docker_documentation_exceptions() -> None:
    matcher = PatternMatcher(read_patterns("*.md\n!README.md\n"))
    assert matcher.excluded("CHANGELOG.md")
    assert not matcher.excluded("README.md")

    matcher = PatternMatcher(read_patterns("*.md\n!README*.md\nREADME-secret.md\n"))
    assert matcher.excluded("README-secret.md")
    assert not matcher.excluded("README-public.md")
    assert matcher.excluded("other.md")

    # the later exception re-includes every README, the secret one too
    matcher = PatternMatcher(read_patterns("*.md\nREADME-secret.md\n!README*.md\n"))
    assert not matcher.excluded("README-secret.md")


def test_the_context_itself_is_never_excluded() -> None:
    matcher = PatternMatcher(["*", "**"])
    assert not matcher.excluded(".")
    assert not matcher.excluded("")


def test_a_leading_slash_in_the_path_or_pattern_is_the_context_root() -> None:
    matcher = PatternMatcher(read_patterns("/secret\n"))
    assert matcher.excluded("secret")
    assert matcher.excluded("secret/key")
    assert not matcher.excluded("sub/secret")


def test_is_dir_does_not_change_the_answer() -> None:
    matcher = PatternMatcher(["build"])
    assert matcher.excluded("build", is_dir=True)
    assert matcher.excluded("build", is_dir=False)


def test_exclusions_and_reincludes_below() -> None:
    matcher = PatternMatcher(["docs", "!docs/README.md", "vendor"])
    assert matcher.exclusions
    assert matcher.reincludes_below("docs")
    assert not matcher.reincludes_below("vendor")
    assert not PatternMatcher(["docs"]).exclusions
    # Docker decides by the pattern's literal prefix: a wildcard there does not count
    assert not PatternMatcher(["docs", "!*/README.md"]).reincludes_below("docs")


@pytest.mark.parametrize("pattern", ["!", "  !  "])
def test_a_lone_exclamation_mark_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidParameter, match='illegal exclusion pattern: "!"'):
        PatternMatcher([pattern])


@pytest.mark.parametrize("pattern", ["[", "a[", "[^bc", "x/[-]", "!\\"])
def test_a_malformed_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidParameter, match="syntax error in pattern"):
        PatternMatcher([pattern])


def test_blank_patterns_are_ignored() -> None:
    assert not PatternMatcher(["", "   "]).excluded("anything")
