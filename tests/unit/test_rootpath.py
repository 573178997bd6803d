"""engine.containers.rootpath: symlinks followed as if the root were "/" (FollowSymlinkInScope)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.containers.rootpath import MAX_LINK_HOPS, resolve_in_root
from engine.errors import InvalidParameter


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr" / "etc").mkdir(parents=True)
    (root / "usr" / "etc" / "passwd").write_text("x")
    return root


def test_plain_paths_are_joined(root: Path) -> None:
    assert resolve_in_root(root, "/usr/etc/passwd") == root / "usr" / "etc" / "passwd"
    assert resolve_in_root(root, "usr/etc/passwd") == root / "usr" / "etc" / "passwd"
    assert resolve_in_root(root, "//usr/./etc//passwd") == root / "usr" / "etc" / "passwd"
    assert resolve_in_root(root, "/") == root
    assert resolve_in_root(root, "") == root


def test_an_absolute_link_is_rerooted(root: Path, tmp_path: Path) -> None:
    (root / "etc").symlink_to("/usr/etc")
    assert resolve_in_root(root, "/etc/passwd") == root / "usr" / "etc" / "passwd"
    # even when the target exists on the host
    host = tmp_path / "host-etc"
    host.mkdir()
    (root / "hostlink").symlink_to(host)
    assert resolve_in_root(root, "/hostlink/passwd") == root / str(host).lstrip("/") / "passwd"


def test_a_relative_link_cannot_climb_out(root: Path) -> None:
    (root / "usr" / "etc" / "up").symlink_to("../../../../../../etc")
    assert resolve_in_root(root, "/usr/etc/up/passwd") == root / "etc" / "passwd"


def test_a_relative_link_is_taken_from_its_directory(root: Path) -> None:
    (root / "etc").symlink_to("usr/etc")
    (root / "usr" / "etc" / "pw").symlink_to("./passwd")
    assert resolve_in_root(root, "/etc/pw") == root / "usr" / "etc" / "passwd"


def test_dotdot_never_climbs_above_the_root(root: Path) -> None:
    assert resolve_in_root(root, "/../../usr/../../etc") == root / "etc"


def test_dotdot_after_a_link_goes_up_from_the_target(root: Path) -> None:
    (root / "etc").symlink_to("/usr/etc")
    assert resolve_in_root(root, "/etc/../etc/passwd") == root / "usr" / "etc" / "passwd"


def test_a_missing_tail_is_kept(root: Path) -> None:
    assert resolve_in_root(root, "/usr/nope/a/../b") == root / "usr" / "nope" / "b"
    (root / "dangling").symlink_to("/does/not/exist")
    assert resolve_in_root(root, "/dangling/x") == root / "does" / "not" / "exist" / "x"


def test_a_file_in_the_middle_is_taken_lexically(root: Path) -> None:
    assert resolve_in_root(root, "/usr/etc/passwd/x") == root / "usr" / "etc" / "passwd" / "x"


@pytest.mark.parametrize("target", ["loop", "/loop", "./loop/../loop"])
def test_a_loop_is_refused(root: Path, target: str) -> None:
    (root / "loop").symlink_to(target)
    with pytest.raises(InvalidParameter) as info:
        resolve_in_root(root, "/loop/x")
    assert info.value.message == "too many levels of symbolic links"


def test_a_two_link_cycle_is_refused(root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("/a")
    with pytest.raises(InvalidParameter, match="too many levels of symbolic links"):
        resolve_in_root(root, "a")


def test_a_long_chain_within_the_limit_is_followed(root: Path) -> None:
    (root / "l0").symlink_to("/usr/etc")
    for i in range(1, MAX_LINK_HOPS):
        (root / f"l{i}").symlink_to(f"l{i - 1}")
    last = f"/l{MAX_LINK_HOPS - 1}/passwd"
    assert resolve_in_root(root, last) == root / "usr" / "etc" / "passwd"
    (root / f"l{MAX_LINK_HOPS}").symlink_to(f"l{MAX_LINK_HOPS - 1}")
    with pytest.raises(InvalidParameter):
        resolve_in_root(root, f"/l{MAX_LINK_HOPS}/passwd")


def test_the_result_never_leaves_the_root(root: Path) -> None:
    (root / "a").symlink_to("../../../..")
    (root / "usr" / "b").symlink_to("/../a/../../usr")
    for path in ("/a", "/a/b", "/usr/b/etc", "/usr/b/b/../..", "a/../../.."):
        resolved = resolve_in_root(root, path)
        assert resolved == root or root in resolved.parents
