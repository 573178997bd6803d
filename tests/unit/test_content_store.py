"""Tests for the content-addressed blob store."""

import hashlib
import io
from pathlib import Path

import pytest

from engine.content.store import ContentStore, DigestMismatch, check_digest, sha256_digest
from engine.errors import InvalidParameter, NotFound

DATA = b"hello, blobs\n"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
OTHER = "sha256:" + "0" * 64


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    blobs, ingest = tmp_path / "blobs", tmp_path / "ingest"
    blobs.mkdir()
    ingest.mkdir()
    return ContentStore(blobs, ingest)


def _listing(store: ContentStore) -> tuple[list[str], list[str]]:
    return sorted(p.name for p in store.blobs.iterdir()), sorted(
        p.name for p in store.ingest.iterdir()
    )


def test_sha256_digest() -> None:
    assert sha256_digest(DATA) == DIGEST


def test_writer_commit_publishes_blob(store: ContentStore) -> None:
    with store.writer() as writer:
        writer.write(DATA[:5])
        writer.write(DATA[5:])
        assert writer.size == len(DATA)
        digest = writer.commit()
    assert digest == DIGEST
    assert store.exists(DIGEST)
    assert store.read(DIGEST) == DATA
    assert store.size(DIGEST) == len(DATA)
    assert (store.blobs / DIGEST.removeprefix("sha256:")).stat().st_mode & 0o777 == 0o644
    assert _listing(store) == ([DIGEST.removeprefix("sha256:")], [])


def test_open_streams_blob(store: ContentStore) -> None:
    store.write_bytes(DATA)
    with store.open(DIGEST) as stream:
        assert stream.read() == DATA


def test_write_bytes_with_expected_digest(store: ContentStore) -> None:
    assert store.write_bytes(DATA, expected=DIGEST) == DIGEST
    assert store.read(DIGEST) == DATA


def test_digest_mismatch_leaves_nothing(store: ContentStore) -> None:
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        store.write_bytes(DATA, expected=OTHER)
    assert _listing(store) == ([], [])
    assert not store.exists(OTHER)
    assert not store.exists(DIGEST)


def test_digest_mismatch_is_invalid_parameter() -> None:
    assert issubclass(DigestMismatch, InvalidParameter)


def test_abandoned_writer_leaves_no_ingest_file(store: ContentStore) -> None:
    with store.writer() as writer:
        writer.write(DATA)
        assert writer.path.parent == store.ingest
        assert writer.path.exists()
    assert _listing(store) == ([], [])


def test_commit_of_existing_blob_is_idempotent(store: ContentStore) -> None:
    store.write_bytes(DATA)
    path = store.path(DIGEST)
    inode = path.stat().st_ino
    assert store.write_bytes(DATA) == DIGEST
    assert path.stat().st_ino == inode  # the first copy was kept, not replaced
    assert store.read(DIGEST) == DATA
    assert _listing(store) == ([DIGEST.removeprefix("sha256:")], [])


def test_copy_from_stream(store: ContentStore) -> None:
    payload = bytes(range(256)) * 9000  # spans more than one CHUNK
    digest, size = store.copy_from(io.BytesIO(payload))
    assert digest == sha256_digest(payload)
    assert size == len(payload)
    assert store.read(digest) == payload


def test_copy_from_empty_stream(store: ContentStore) -> None:
    digest, size = store.copy_from(io.BytesIO(b""))
    assert (digest, size) == (sha256_digest(b""), 0)
    assert store.read(digest) == b""


def test_copy_from_mismatch_leaves_nothing(store: ContentStore) -> None:
    with pytest.raises(DigestMismatch):
        store.copy_from(io.BytesIO(DATA), expected=OTHER)
    assert _listing(store) == ([], [])


def test_delete(store: ContentStore) -> None:
    store.write_bytes(DATA)
    store.delete(DIGEST)
    assert not store.exists(DIGEST)
    store.delete(DIGEST)  # deleting a missing blob is not an error


def test_missing_blob_raises_not_found(store: ContentStore) -> None:
    with pytest.raises(NotFound):
        store.read(OTHER)
    with pytest.raises(NotFound):
        store.size(OTHER)
    with pytest.raises(NotFound):
        store.open(OTHER)


def test_digests_lists_only_blobs(store: ContentStore) -> None:
    store.write_bytes(DATA)
    store.write_bytes(b"second")
    (store.blobs / "not-a-digest").write_bytes(b"x")
    assert sorted(store.digests()) == sorted([DIGEST, sha256_digest(b"second")])


def test_clean_ingest_removes_leftovers(store: ContentStore) -> None:
    (store.ingest / "ingest-abc").write_bytes(b"half")
    (store.ingest / "ingest-def").write_bytes(b"written")
    store.write_bytes(DATA)
    assert store.clean_ingest() == 2
    assert _listing(store) == ([DIGEST.removeprefix("sha256:")], [])
    assert store.clean_ingest() == 0


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../x",
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,
        "sha512:" + "a" * 64,
        "a" * 64,
        "sha256:" + "a" * 63 + "/",
        "",
    ],
)
def test_check_digest_rejects_bad_digests(store: ContentStore, digest: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid digest"):
        check_digest(digest)
    with pytest.raises(InvalidParameter):
        store.path(digest)
    with pytest.raises(InvalidParameter):
        store.delete(digest)


def test_check_digest_accepts_good_digest() -> None:
    assert check_digest(DIGEST) == DIGEST
