"""Progress messages of pull and push, compared with what dockerd and jsonmessage print."""

from __future__ import annotations

from engine.images import transfer_progress as tp


def test_human_size_uses_decimal_units_and_four_digits() -> None:
    assert tp.human_size(0) == "0B"
    assert tp.human_size(999) == "999B"
    assert tp.human_size(8192) == "8.192kB"
    assert tp.human_size(1036336) == "1.036MB"
    assert tp.human_size(2_500_000_000) == "2.5GB"


def test_progress_bar_matches_jsonmessage() -> None:
    assert tp.progress_bar(0, 0) == ""
    assert tp.progress_bar(8192, 1036336) == "[>" + " " * 50 + "]  8.192kB/1.036MB"
    half = tp.progress_bar(500, 1000)
    assert half == "[" + "=" * 25 + ">" + " " * 25 + "]     500B/1kB"
    assert tp.progress_bar(1000, 1000).startswith("[" + "=" * 50 + ">]")
    assert tp.progress_bar(1500, 0) == "   1.5kB"


def test_layer_messages() -> None:
    assert tp.short_digest("sha256:" + "ab" * 32) == "ab" * 6
    assert tp.status("Pulling fs layer", "abc") == {
        "status": "Pulling fs layer",
        "progressDetail": {},
        "id": "abc",
    }
    assert tp.status("Digest: sha256:x") == {"status": "Digest: sha256:x"}
    assert tp.transfer("Downloading", "abc", 1, 2) == {
        "status": "Downloading",
        "progressDetail": {"current": 1, "total": 2},
        "progress": tp.progress_bar(1, 2),
        "id": "abc",
    }
    assert tp.pulling_from("1", "x/busybox") == {"status": "Pulling from x/busybox", "id": "1"}
    assert tp.pull_status("busybox:latest", True) == {
        "status": "Status: Downloaded newer image for busybox:latest"
    }
    assert tp.pull_status("busybox:latest", False) == {
        "status": "Status: Image is up to date for busybox:latest"
    }
    line, aux = tp.push_result("1", "sha256:d", 527)
    assert line == {"status": "1: digest: sha256:d size: 527"}
    assert aux["aux"] == {"Tag": "1", "Digest": "sha256:d", "Size": 527}


def test_throttle_limits_reports_but_forced_ones_pass() -> None:
    sent: list[tp.Message] = []
    now = [100.0]
    throttle = tp.Throttle(sent.append, "Pushing", "abc", 10, clock=lambda: now[0])
    throttle(1)
    throttle(2)  # same instant: dropped
    now[0] += 1
    throttle(3)
    throttle(10, force=True)
    assert [m["progressDetail"]["current"] for m in sent] == [1, 3, 10]
