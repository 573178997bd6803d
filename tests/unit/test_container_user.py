"""engine.containers.user: ``--user`` resolved against the image's /etc/passwd and /etc/group,
as libcontainer's user.GetExecUser and GetAdditionalGroups (moby/sys/user) do."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.containers.user import ExecUser, resolve_user
from engine.errors import InvalidParameter

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment line
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:100::/home/bob:/bin/sh
nohome:x:1002:1002
"""

GROUP = """\
root:x:0:
wheel:x:10:root,alice
users:x:100:bob
alice:x:1000:
staff:x:50:alice,bob
docker:x:999:alice
"""


def _rootfs(tmp_path: Path, passwd: str | None = PASSWD, group: str | None = GROUP) -> Path:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    if passwd is not None:
        (rootfs / "etc" / "passwd").write_text(passwd)
    if group is not None:
        (rootfs / "etc" / "group").write_text(group)
    return rootfs


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return _rootfs(tmp_path)


def test_empty_spec_is_root_with_roots_home_and_groups(rootfs: Path) -> None:
    assert resolve_user(rootfs, "") == ExecUser(0, 0, (10,), "/root")


def test_empty_spec_without_passwd_is_root_with_home_slash(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, passwd=None, group=None)
    assert resolve_user(rootfs, "") == ExecUser(0, 0, (), "/")


def test_a_rootfs_without_etc_at_all(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert resolve_user(tmp_path / "empty", "") == ExecUser(0, 0, (), "/")
    assert resolve_user(tmp_path / "empty", "1234") == ExecUser(1234, 0, (), "/")


def test_by_name(rootfs: Path) -> None:
    user = resolve_user(rootfs, "alice")
    assert (user.uid, user.gid, user.home) == (1000, 1000, "/home/alice")
    # supplementary groups: every /etc/group entry that lists alice
    assert user.additional_gids == (10, 50, 999)


def test_by_uid(rootfs: Path) -> None:
    assert resolve_user(rootfs, "1001") == ExecUser(1001, 100, (50,), "/home/bob")


def test_an_entry_without_home_gets_slash(rootfs: Path) -> None:
    assert resolve_user(rootfs, "nohome") == ExecUser(1002, 1002, (), "/")


def test_unknown_numeric_uid_runs_as_that_uid_with_group_0(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242") == ExecUser(4242, 0, (), "/")


def test_unknown_name_is_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter) as info:
        resolve_user(rootfs, "mallory")
    assert info.value.message == ("unable to find user mallory: no matching entries in passwd file")


def test_name_and_group_name(rootfs: Path) -> None:
    user = resolve_user(rootfs, "bob:staff")
    assert (user.uid, user.gid, user.home) == (1001, 50, "/home/bob")


def test_uid_and_gid(rootfs: Path) -> None:
    user = resolve_user(rootfs, "1000:100")
    assert (user.uid, user.gid, user.home) == (1000, 100, "/home/alice")


def test_unknown_uid_and_unknown_gid_are_taken_as_numbers(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242:4343") == ExecUser(4242, 4343, (), "/")


def test_root_with_a_group(rootfs: Path) -> None:
    user = resolve_user(rootfs, "root:users")
    assert (user.uid, user.gid, user.home) == (0, 100, "/root")


def test_unknown_group_name_is_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter) as info:
        resolve_user(rootfs, "alice:nogroup")
    assert info.value.message == ("unable to find group nogroup: no matching entries in group file")


@pytest.mark.parametrize("spec", ["alice:staff", "1000:50", "alice:1000"])
def test_explicit_group_brings_no_supplementary_groups(rootfs: Path, spec: str) -> None:
    assert resolve_user(rootfs, spec).additional_gids == ()


def test_primary_group_is_not_repeated_in_the_additional_ones(rootfs: Path) -> None:
    # oci_spec prepends the primary gid itself, as dockerd's getUser does.
    user = resolve_user(rootfs, "bob", ["users", "100"])
    assert user.gid == 100
    assert 100 not in user.additional_gids


def test_group_add_by_name_and_number(rootfs: Path) -> None:
    user = resolve_user(rootfs, "daemon", ["staff", "999", "7777"])
    assert (user.uid, user.gid) == (1, 1)
    assert user.additional_gids == (50, 999, 7777)


def test_group_add_joins_the_users_own_groups_without_duplicates(rootfs: Path) -> None:
    user = resolve_user(rootfs, "alice", ["docker", "users"])
    assert user.additional_gids == (10, 50, 999, 100)


def test_group_add_unknown_name_is_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"^unable to find group audio: no matching"):
        resolve_user(rootfs, "alice", ["audio"])


def test_group_add_on_an_unknown_uid(rootfs: Path) -> None:
    assert resolve_user(rootfs, "4242", ["staff"]) == ExecUser(4242, 0, (50,), "/")


def test_symlinked_passwd_is_ignored(rootfs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-passwd"
    outside.write_text("mallory:x:666:666::/evil:/bin/sh\nroot:x:0:0::/evil-root:/bin/sh\n")
    passwd = rootfs / "etc" / "passwd"
    passwd.unlink()
    passwd.symlink_to(outside)
    with pytest.raises(InvalidParameter, match=r"^unable to find user mallory"):
        resolve_user(rootfs, "mallory")
    # treated as empty: root gets home "/" rather than the outside file's home; with no
    # passwd entry for uid 0 no user name is matched, so GetExecUser adds no /etc/group
    # memberships (wheel lists root, but only a matched name is looked up there)
    assert resolve_user(rootfs, "") == ExecUser(0, 0, (), "/")


def test_symlinked_group_is_ignored(rootfs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-group"
    outside.write_text("evil:x:666:alice\n")
    group = rootfs / "etc" / "group"
    group.unlink()
    group.symlink_to(outside)
    assert resolve_user(rootfs, "alice").additional_gids == ()
    with pytest.raises(InvalidParameter, match=r"^unable to find group evil"):
        resolve_user(rootfs, "alice:evil")


def test_symlinked_etc_directory_does_not_escape_the_rootfs(tmp_path: Path) -> None:
    host_etc = tmp_path / "host-etc"
    host_etc.mkdir()
    (host_etc / "passwd").write_text("mallory:x:666:666::/evil:/bin/sh\n")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "etc").symlink_to(host_etc)  # absolute target: outside the rootfs
    with pytest.raises(InvalidParameter, match=r"^unable to find user mallory"):
        resolve_user(rootfs, "mallory")


def test_short_and_malformed_lines_are_skipped(tmp_path: Path) -> None:
    rootfs = _rootfs(
        tmp_path,
        passwd="broken\nalso:broken\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        group="junk\nstaff:x:50:alice\n",
    )
    assert resolve_user(rootfs, "alice") == ExecUser(1000, 1000, (50,), "/home/alice")


def test_a_numeric_user_is_a_uid_never_a_name(tmp_path: Path) -> None:
    # GetExecUser: "if the userArg is numeric, always treat it as a UID".
    rootfs = _rootfs(
        tmp_path,
        passwd="1000:x:2000:2000::/home/named:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
    )
    assert resolve_user(rootfs, "1000").home == "/home/alice"
    assert resolve_user(rootfs, "2000") == ExecUser(2000, 2000, (), "/home/named")


def test_a_numeric_group_is_a_gid_never_a_name(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, group="50:x:777:\nstaff:x:50:\n")
    assert resolve_user(rootfs, "root:50").gid == 50
    assert resolve_user(rootfs, "root:777").gid == 777
    assert resolve_user(rootfs, "root", ["50"]).additional_gids == (50,)


def test_empty_spec_takes_the_uid_0_entrys_group(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, passwd="toor:x:0:5::/toor:/bin/sh\n", group="g:x:9:toor\n")
    assert resolve_user(rootfs, "") == ExecUser(0, 5, (9,), "/toor")


@pytest.mark.parametrize("spec", ["2147483648", "-1", "root:2147483648", "0:-5"])
def test_ids_out_of_range_are_refused(rootfs: Path, spec: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        resolve_user(rootfs, spec)
    assert info.value.message == "uids and gids must be in range 0-2147483647"


def test_group_add_out_of_range_is_refused(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"^uids and gids must be in range"):
        resolve_user(rootfs, "alice", ["4294967296"])


def test_etc_symlinked_inside_the_rootfs_is_followed(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr" / "etc").mkdir(parents=True)
    (rootfs / "usr" / "etc" / "passwd").write_text("carol:x:3000:3000::/home/carol:/bin/sh\n")
    (rootfs / "etc").symlink_to("/usr/etc")  # absolute: taken inside the rootfs
    assert resolve_user(rootfs, "carol") == ExecUser(3000, 3000, (), "/home/carol")


def test_passwd_that_is_not_a_regular_file_is_ignored(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, passwd=None)
    (rootfs / "etc" / "passwd").mkdir()
    with pytest.raises(InvalidParameter, match=r"^unable to find user alice"):
        resolve_user(rootfs, "alice")


def test_bad_numbers_in_the_files_read_as_zero(tmp_path: Path) -> None:
    rootfs = _rootfs(tmp_path, passwd="eve:x:abc:1x::/home/eve:/bin/sh\n", group=None)
    assert resolve_user(rootfs, "eve") == ExecUser(0, 0, (), "/home/eve")
