"""engine.api.stdcopy: Docker's multiplexed stream frames (pkg/stdcopy): one byte of stream,
three zero bytes, a big-endian uint32 length, then the payload."""

from __future__ import annotations

import struct

import pytest

from engine.api.stdcopy import MAX_FRAME, STDERR, STDIN, STDOUT, frame, parse_frames


def test_stream_numbers() -> None:
    assert (STDIN, STDOUT, STDERR) == (0, 1, 2)


def test_stdout_header() -> None:
    assert frame(STDOUT, b"hello\n") == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"


def test_stderr_header() -> None:
    assert frame(STDERR, b"oops") == b"\x02\x00\x00\x00\x00\x00\x00\x04oops"


def test_length_is_big_endian() -> None:
    data = b"x" * 0x01_02_03
    framed = frame(STDOUT, data)
    assert framed[:8] == b"\x01\x00\x00\x00\x00\x01\x02\x03"
    assert framed[8:] == data


def test_empty_payload() -> None:
    assert frame(STDOUT, b"") == b"\x01" + b"\x00" * 7


def test_a_frame_of_exactly_max_size_is_not_split() -> None:
    framed = frame(STDERR, b"a" * MAX_FRAME)
    assert len(framed) == 8 + MAX_FRAME
    assert struct.unpack(">BxxxI", framed[:8]) == (STDERR, MAX_FRAME)


def test_large_payloads_are_split_into_max_size_frames() -> None:
    data = bytes(range(256)) * (MAX_FRAME * 2 // 256) + b"tail"
    framed = frame(STDOUT, data)
    frames, rest = parse_frames(framed)
    assert rest == b""
    assert [len(payload) for _, payload in frames] == [MAX_FRAME, MAX_FRAME, 4]
    assert {stream for stream, _ in frames} == {STDOUT}
    assert b"".join(payload for _, payload in frames) == data


def test_round_trip_of_mixed_streams() -> None:
    chunks = [(STDOUT, b"one\n"), (STDERR, b"two\n"), (STDOUT, b""), (STDOUT, b"\x00\xff")]
    buffer = b"".join(frame(stream, data) for stream, data in chunks)
    assert parse_frames(buffer) == (chunks, b"")


@pytest.mark.parametrize("cut", [1, 7, 8, 9, 12])
def test_an_incomplete_tail_is_returned_unparsed(cut: int) -> None:
    first = frame(STDOUT, b"complete")
    second = frame(STDERR, b"partial")
    frames, rest = parse_frames(first + second[:cut])
    assert frames == [(STDOUT, b"complete")]
    assert rest == second[:cut]


def test_feeding_byte_by_byte_gives_the_same_frames() -> None:
    chunks = [(STDOUT, b"hello"), (STDERR, b"world"), (STDOUT, b"!")]
    stream = b"".join(frame(s, d) for s, d in chunks)
    seen: list[tuple[int, bytes]] = []
    pending = b""
    for i in range(len(stream)):
        got, pending = parse_frames(pending + stream[i : i + 1])
        seen.extend(got)
    assert seen == chunks
    assert pending == b""


def test_empty_buffer() -> None:
    assert parse_frames(b"") == ([], b"")
