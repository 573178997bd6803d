"""engine.userns: subordinate ID ranges, the mapping they make, ``--userns-remap`` parsing."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.config import load_config
from engine.errors import InvalidParameter
from engine.userns.access import can_traverse, check_root_access
from engine.userns.idmap import OVERFLOW_ID, IdentityMapping, IdMap, parse_proc_map
from engine.userns.remap import (
    add_range_argv,
    add_user_argv,
    load_identity_mapping,
    mapping_from_ranges,
    parse_remapped_root,
)
from engine.userns.subids import SubIdRange, id_maps, next_range_start, parse_subids, ranges_of

SUBUID = """\
# a comment
alice:100000:65536
1001:165536:65536

bob:231072:1000
alice:300000:10
broken
carol:x:5
dave:400000:0
"""


def test_parse_subids_skips_blank_comment_and_malformed_lines() -> None:
    assert parse_subids(SUBUID) == [
        SubIdRange("alice", 100000, 65536),
        SubIdRange("1001", 165536, 65536),
        SubIdRange("bob", 231072, 1000),
        SubIdRange("alice", 300000, 10),
    ]


def test_ranges_of_matches_the_name_or_the_uid_in_file_order() -> None:
    ranges = parse_subids(SUBUID)
    assert ranges_of(ranges, "alice", 1000) == [ranges[0], ranges[3]]
    assert ranges_of(ranges, "erin", 1001) == [ranges[1]]
    assert ranges_of(ranges, "frank", 1002) == []


def test_id_maps_lay_container_ids_over_several_ranges() -> None:
    ranges = [SubIdRange("a", 100000, 65536), SubIdRange("a", 300000, 10)]
    assert id_maps(ranges) == (IdMap(0, 100000, 65536), IdMap(65536, 300000, 10))


def test_mapping_translates_both_ways_across_ranges() -> None:
    maps = (IdMap(0, 100000, 65536), IdMap(65536, 300000, 10))
    mapping = IdentityMapping(maps, (IdMap(0, 200000, 65536),))
    assert mapping.root_pair == (100000, 200000)
    assert mapping.to_host(0, 0) == (100000, 200000)
    assert mapping.to_host(1000, 5) == (101000, 200005)
    assert mapping.to_host(65537, 0) == (300001, 200000)
    assert mapping.to_container(101000, 200005) == (1000, 5)
    assert mapping.to_container(300009, 200000) == (65545, 0)
    # Host IDs outside the mapping show as the kernel's overflow IDs.
    assert mapping.to_container(0, 0) == (OVERFLOW_ID, OVERFLOW_ID)
    with pytest.raises(InvalidParameter):
        mapping.to_host(70000, 0)
    assert mapping.size == 65536


def test_oci_mappings_and_proc_text() -> None:
    mapping = IdentityMapping((IdMap(0, 100000, 65536),), (IdMap(0, 100000, 65536),))
    uids, gids = mapping.oci()
    assert uids == gids == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert IdentityMapping.proc_text(mapping.uids) == "0 100000 65536\n"


def test_from_proc_reads_the_kernels_table_and_ignores_the_identity_mapping() -> None:
    text = "         0     100000      65536\n     65536     300000         10\n"
    assert parse_proc_map(text) == (IdMap(0, 100000, 65536), IdMap(65536, 300000, 10))
    mapping = IdentityMapping.from_proc(text, text)
    assert mapping is not None and mapping.root_pair == (100000, 100000)
    host = "         0          0 4294967295\n"
    assert IdentityMapping.from_proc(host, host) is None
    assert IdentityMapping.from_proc("", "") is None


def test_mapping_from_ranges_needs_both_files() -> None:
    ranges = parse_subids(SUBUID)
    mapping = mapping_from_ranges(ranges, ranges, "alice", 1000)
    assert mapping.uids == (IdMap(0, 100000, 65536), IdMap(65536, 300000, 10))
    with pytest.raises(InvalidParameter, match='no subuid ranges found for user "alice"'):
        mapping_from_ranges(ranges, [], "alice", 1000)


@pytest.mark.parametrize(
    ("existing", "start"),
    [
        ([], 100000),
        ([SubIdRange("a", 100000, 65536)], 165536),
        ([SubIdRange("a", 165536, 65536), SubIdRange("b", 100000, 65536)], 231072),
        ([SubIdRange("a", 1000000, 65536)], 100000),  # room before it
        ([SubIdRange("a", 120000, 10)], 120010),  # a small range inside the first candidate
        ([SubIdRange("a", 50000, 60000)], 110000),
    ],
)
def test_next_range_start_skips_every_overlap(existing: list[SubIdRange], start: int) -> None:
    assert next_range_start(existing) == start


def test_dockremap_commands_are_dockerds() -> None:
    assert add_user_argv("dockremap", adduser=True) == [
        "adduser", "--system", "--shell", "/bin/false", "--no-create-home",
        "--disabled-login", "--disabled-password", "--group", "dockremap",
    ]  # fmt: skip
    assert add_user_argv("dockremap", adduser=False) == [
        "useradd",
        "-r",
        "-s",
        "/bin/false",
        "dockremap",
    ]
    assert add_range_argv("dockremap", "-v", 165536) == [
        "usermod",
        "-v",
        "165536-231071",
        "dockremap",
    ]


def _never(name: str) -> None:
    raise AssertionError(f"asked to create {name}")


def test_parse_remapped_root_resolves_names_and_ids() -> None:
    nobody = pwd.getpwuid(65534).pw_name
    nogroup = grp.getgrgid(65534).gr_name
    root_group = grp.getgrgid(0).gr_name
    assert parse_remapped_root("65534", _never) == (nobody, nogroup)
    assert parse_remapped_root("65534:0", _never) == (nobody, root_group)
    assert parse_remapped_root(f"{nobody}:{nogroup}", _never) == (nobody, nogroup)
    assert parse_remapped_root("root", _never) == ("root", root_group)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("a:b:c", 'Invalid user/group specification in --userns-remap: "a:b:c"'),
        ("no-such-user-x", 'Error during uid lookup for "no-such-user-x": getent unable'),
        ("root:no-such-group-x", 'Error during groupname lookup for "no-such-group-x"'),
        ("4000000", "Uid 4000000 has no entry in /etc/passwd"),
        ("0:4000000", "Gid 4000000 has no entry in /etc/passwd"),
    ],
)
def test_parse_remapped_root_refuses_as_dockerd(spec: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_remapped_root(spec, _never)
    assert caught.value.message.startswith(message)


def test_default_creates_dockremap_only_when_missing() -> None:
    created: list[str] = []
    try:
        pwd.getpwnam("dockremap")
    except KeyError:
        assert parse_remapped_root("default", created.append) == ("dockremap", "dockremap")
        assert created == ["dockremap"]
    else:
        parse_remapped_root("default", created.append)
        assert created == []


def test_a_failed_dockremap_creation_is_reported_as_dockerd_does() -> None:
    def refuse(name: str) -> None:
        raise InvalidParameter("useradd failed with exit status 1")

    try:
        pwd.getpwnam("dockremap")
    except KeyError:
        with pytest.raises(InvalidParameter, match='Error during "dockremap" user creation'):
            parse_remapped_root("default", refuse)
    else:
        pytest.skip("a dockremap user exists on this machine")


def test_the_flag_and_the_config_file_key(tmp_path: Path) -> None:
    # root cannot be remapped to itself: dockerd turns remapping off, with a warning.
    assert load_config(["--userns-remap", "root"]).userns_remap == ""
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text('{"userns-remap": "root"}')
    assert load_config(["--config-file", str(daemon_json)]).userns_remap == ""
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file"):
        load_config(["--config-file", str(daemon_json), "--userns-remap", "root"])
    daemon_json.write_text('{"userns-remap": 5}')
    with pytest.raises(InvalidParameter, match="userns-remap must be a string"):
        load_config(["--config-file", str(daemon_json)])
    assert load_config([]).userns_remap == ""


def test_a_user_without_ranges_stops_the_engine(tmp_path: Path) -> None:
    user = pwd.getpwuid(1).pw_name
    try:
        load_identity_mapping(user)
    except InvalidParameter:
        pass
    else:
        pytest.skip(f"{user} has subordinate ranges on this machine")
    with pytest.raises(InvalidParameter) as caught:
        load_config(["--userns-remap", "1", "--data-root", str(tmp_path / "data")])
    assert caught.value.message == (
        f'error creating ID mappings: no subuid ranges found for user "{user}"'
    )


def test_the_data_root_must_be_reachable_by_the_remapped_root() -> None:
    base = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own directories are root's only
    try:
        closed = base / "closed"
        closed.mkdir(mode=0o700)
        with pytest.raises(InvalidParameter, match="restricts access to the remapped root"):
            check_root_access(closed / "data", (100000, 100000))
        base.chmod(0o755)
        with pytest.raises(InvalidParameter):
            check_root_access(closed / "data", (100000, 100000))
        closed.chmod(0o711)
        check_root_access(closed / "data", (100000, 100000))
        # Group access is enough, as dockerd's own 0710 directories have it.
        closed.chmod(0o710)
        os.chown(closed, 0, 100000)
        check_root_access(closed / "data", (100000, 100000))
    finally:
        shutil.rmtree(base)


def test_can_traverse_as_dockerd_checks() -> None:
    def info(mode: int, uid: int = 0, gid: int = 0) -> os.stat_result:
        return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))

    assert can_traverse(info(0o701), 5, 5)
    assert not can_traverse(info(0o700), 5, 5)
    assert can_traverse(info(0o700, uid=5), 5, 6)
    assert can_traverse(info(0o710, gid=6), 5, 6)
    assert not can_traverse(info(0o600, uid=5), 5, 6)
