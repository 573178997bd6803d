"""`docker images` and `docker history` output: the fields their ``--format`` templates see
(formatter.imageContext, historyContext), one row per repository and tag."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from doca.cli import formatting
from doca.cli import output_format as fmt
from doca.cli.registry_commands import parse_reference

IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A"
    "{{end}}\t{{.Size}}"
)
IMAGES_TABLE_WITH_DIGEST = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}"
    "{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
IMAGES_HEADER = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}  # fmt: skip
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NON_HUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADER = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}  # fmt: skip
# Layers from before 2000 have no real creation date (history.go's epoch).
_EPOCH_2000 = 946684800


def image_format(source: str, quiet: bool, digest: bool) -> str:
    """NewImageFormat: the template behind ``--format`` (or its absence)."""
    if source in (fmt.TABLE, ""):
        if quiet:
            return fmt.QUIET_TEMPLATE
        return IMAGES_TABLE_WITH_DIGEST if digest else IMAGES_TABLE
    if source == fmt.RAW:
        if quiet:
            return "image_id: {{.ID}}"
        digest_line = "digest: {{.Digest}}\n" if digest else ""
        return (
            "repository: {{ .Repository }}\ntag: {{.Tag}}\n" + digest_line + "image_id: {{.ID}}\n"
            "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
        )
    if fmt.is_table(source) and digest and "{{.Digest}}" not in source:
        return source + "\t{{.Digest}}"
    return source


class ImageContext(fmt.FormatterContext):
    """One row of `docker images`: an image under one repository and tag."""

    go_type = "*formatter.imageContext"

    def __init__(
        self, image: Mapping[str, Any], repo: str, tag: str, digest: str, trunc: bool, now: float
    ) -> None:
        self.i = image
        self.repo, self.tag, self.digest = repo, tag, digest
        self.trunc = trunc
        self.now = now

    def _size(self, key: str) -> int:
        value = self.i.get(key)
        return -1 if value is None else int(value)

    def ID(self) -> str:
        identifier = str(self.i.get("Id") or "")
        return formatting.truncate_id(identifier) if self.trunc else identifier

    def Repository(self) -> str:
        return self.repo

    def Tag(self) -> str:
        return self.tag

    def Digest(self) -> str:
        return self.digest

    def CreatedSince(self) -> str:
        return formatting.time_ago(float(self.i.get("Created") or 0), self.now)

    def CreatedAt(self) -> str:
        return formatting.go_time(float(self.i.get("Created") or 0))

    def Size(self) -> str:
        return formatting.human_size(float(self.i.get("Size") or 0))

    def Containers(self) -> str:
        count = self._size("Containers")
        return "N/A" if count == -1 else str(count)

    def VirtualSize(self) -> str:
        return formatting.human_size(float(self.i.get("Size") or 0), 4)

    def SharedSize(self) -> str:
        shared = self._size("SharedSize")
        return "N/A" if shared == -1 else formatting.human_size(shared, 4)

    def UniqueSize(self) -> str:
        size, shared = self._size("Size"), self._size("SharedSize")
        return "N/A" if -1 in (size, shared) else formatting.human_size(size - shared, 4)


def is_dangling(image: Mapping[str, Any]) -> bool:
    tags, digests = image.get("RepoTags") or [], image.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def _split(references: list[str], digests: bool) -> dict[str, list[str]]:
    """Repositories (familiar names) and their tags, or their digests."""
    found: dict[str, list[str]] = {}
    for text in references:
        try:
            ref = parse_reference(text)
        except ValueError:
            continue
        value = ref.digest if digests else ref.tag
        if value:
            found.setdefault(ref.familiar_name, []).append(value)
    return found


def image_rows(
    image: Mapping[str, Any], digest: bool, need_digest: bool, trunc: bool, now: float
) -> Iterator[ImageContext]:
    """The rows of one image (imageFormatTaggedAndDigest): one per repository and tag (and
    digest when shown); an image with neither is <none> <none>."""
    if is_dangling(image):
        yield ImageContext(image, "<none>", "<none>", "<none>", trunc, now)
        return
    tags = _split(list(image.get("RepoTags") or []), digests=False)
    digests = _split(list(image.get("RepoDigests") or []), digests=True)
    for repo, repo_tags in tags.items():
        repo_digests = digests.pop(repo, [])
        if not need_digest:
            repo_digests = []
        for tag in repo_tags:
            for value in repo_digests or ["<none>"]:
                yield ImageContext(image, repo, tag, value, trunc, now)
    for repo, repo_digests in digests.items():
        for value in repo_digests if digest else [""]:
            yield ImageContext(image, repo, "<none>", value, trunc, now)


def render_images(
    images: Sequence[Mapping[str, Any]], source: str, quiet: bool, digest: bool, no_trunc: bool
) -> str:
    """What `docker images` prints for the engine's image list."""
    template = image_format(source, quiet, digest)
    need_digest = digest or "{{.Digest}}" in template
    now = time.time()
    rows = [
        row for image in images for row in image_rows(image, digest, need_digest, not no_trunc, now)
    ]
    return fmt.render(template, rows, IMAGES_HEADER)


class HistoryContext(fmt.FormatterContext):
    """One layer of `docker history`."""

    go_type = "*image.historyContext"

    def __init__(self, entry: Mapping[str, Any], trunc: bool, human: bool, now: float) -> None:
        self.h = entry
        self.trunc = trunc
        self.human = human
        self.now = now

    def ID(self) -> str:
        identifier = str(self.h.get("Id") or "")
        return formatting.truncate_id(identifier) if self.trunc else identifier

    def CreatedAt(self) -> str:
        moment = time.localtime(int(self.h.get("Created") or 0))
        text = time.strftime("%Y-%m-%dT%H:%M:%S%z", moment)
        return text[:-2] + ":" + text[-2:] if text[-5:] != "+0000" else text[:-5] + "Z"

    def CreatedSince(self) -> str:
        if not self.human:
            return self.CreatedAt()
        created = int(self.h.get("Created") or 0)
        if created <= _EPOCH_2000:
            return "N/A"
        return formatting.time_ago(created, self.now)

    def CreatedBy(self) -> str:
        created_by = str(self.h.get("CreatedBy") or "").replace("\t", " ")
        return formatting.ellipsis(created_by, 45) if self.trunc else created_by

    def Size(self) -> str:
        size = int(self.h.get("Size") or 0)
        return formatting.human_size(size) if self.human else str(size)

    def Comment(self) -> str:
        return str(self.h.get("Comment") or "")


def history_format(source: str, quiet: bool, human: bool) -> str:
    if source == fmt.TABLE:
        if quiet:
            return fmt.QUIET_TEMPLATE
        return HISTORY_TABLE if human else HISTORY_TABLE_NON_HUMAN
    return source


def render_history(
    entries: Sequence[Mapping[str, Any]], source: str, quiet: bool, human: bool, no_trunc: bool
) -> str:
    now = time.time()
    rows = [HistoryContext(entry, not no_trunc, human, now) for entry in entries]
    return fmt.render(history_format(source or fmt.TABLE, quiet, human), rows, HISTORY_HEADER)
