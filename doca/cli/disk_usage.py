"""`doca system df`: the engine's disk usage summed by kind, or each image, container, volume
and cache entry with ``-v``, as the docker CLI prints it (formatter.DiskUsageContext)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from doca.cli import formatting
from doca.cli import output_format as fmt
from doca.cli.image_format import IMAGES_HEADER, ImageContext, is_dangling
from doca.cli.ps_format import HEADER as CONTAINERS_HEADER
from doca.cli.ps_format import ContainerContext
from doca.cli.registry_commands import parse_reference
from doca.cli.templates import Template, TemplateError
from doca.cli.volumes import HEADER as VOLUMES_HEADER
from doca.cli.volumes import VolumeContext

SUMMARY_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
SUMMARY_RAW = (
    "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\n"
    "reclaimable: {{.Reclaimable}}\n"
)
SUMMARY_HEADER = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                  "Reclaimable": "RECLAIMABLE"}  # fmt: skip
IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
    "\t{{.UniqueSize}}\t{{.Containers}}"
)
CONTAINERS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
    "\t{{.Status}}\t{{.Names}}"
)
VOLUMES_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
CACHE_TABLE = (
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
    "\t{{.UsageCount}}\t{{.Shared}}"
)
CACHE_HEADER = {
    "ID": "CACHE ID", "Parent": "PARENT", "CacheType": "CACHE TYPE", "Size": "SIZE",
    "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE",
    "InUse": "IN USE", "Shared": "SHARED", "Description": "DESCRIPTION",
}  # fmt: skip
_ACTIVE_STATES = ("running", "paused", "restarting")
Entries = Sequence[Mapping[str, Any]]


def _with_share(reclaimable: int, total: int) -> str:
    size = formatting.human_size(reclaimable, 4)
    return f"{size} ({reclaimable * 100 // total}%)" if total > 0 else size


class _Summary(fmt.FormatterContext):
    kind = ""

    def __init__(self, entries: Entries) -> None:
        self.entries = entries

    def Type(self) -> str:
        return self.kind

    def TotalCount(self) -> str:
        return str(len(self.entries))


class ImagesSummary(_Summary):
    go_type = "*formatter.diskUsageImagesContext"
    kind = "Images"

    def __init__(self, entries: Entries, total_size: int) -> None:
        super().__init__(entries)
        self.total_size = total_size

    def Active(self) -> str:
        return str(sum(1 for image in self.entries if int(image.get("Containers") or 0) > 0))

    def Size(self) -> str:
        return formatting.human_size(self.total_size, 4)

    def Reclaimable(self) -> str:
        used = 0
        for image in self.entries:
            size, shared = image.get("Size", -1), image.get("SharedSize", -1)
            if int(image.get("Containers") or 0) != 0 and -1 not in (size, shared):
                used += int(size) - int(shared)
        return _with_share(self.total_size - used, self.total_size)


class ContainersSummary(_Summary):
    go_type = "*formatter.diskUsageContainersContext"
    kind = "Containers"

    def Active(self) -> str:
        return str(sum(1 for c in self.entries if c.get("State") in _ACTIVE_STATES))

    def Size(self) -> str:
        return formatting.human_size(sum(int(c.get("SizeRw") or 0) for c in self.entries), 4)

    def Reclaimable(self) -> str:
        total = sum(int(c.get("SizeRw") or 0) for c in self.entries)
        idle = sum(int(c.get("SizeRw") or 0) for c in self.entries
                   if c.get("State") not in _ACTIVE_STATES)  # fmt: skip
        return _with_share(idle, total)


class VolumesSummary(_Summary):
    go_type = "*formatter.diskUsageVolumesContext"
    kind = "Local Volumes"

    @staticmethod
    def _usage(volume: Mapping[str, Any]) -> tuple[int, int]:
        usage = volume.get("UsageData") or {}
        return int(usage.get("Size", -1)), int(usage.get("RefCount", 0))

    def Active(self) -> str:
        return str(sum(1 for v in self.entries if self._usage(v)[1] > 0))

    def Size(self) -> str:
        sizes = (self._usage(v)[0] for v in self.entries)
        return formatting.human_size(sum(size for size in sizes if size != -1), 4)

    def Reclaimable(self) -> str:
        usages = [self._usage(v) for v in self.entries if self._usage(v)[0] != -1]
        total = sum(size for size, _ in usages)
        return _with_share(sum(size for size, refs in usages if refs == 0), total)


class BuildCacheSummary(_Summary):
    go_type = "*formatter.diskUsageBuilderContext"
    kind = "Build Cache"

    def __init__(self, entries: Entries, builder_size: int) -> None:
        super().__init__(entries)
        self.builder_size = builder_size

    def Active(self) -> str:
        return str(sum(1 for entry in self.entries if entry.get("InUse")))

    def Size(self) -> str:
        return formatting.human_size(self.builder_size, 4)

    def Reclaimable(self) -> str:
        in_use = sum(int(e.get("Size") or 0) for e in self.entries
                     if e.get("InUse") and not e.get("Shared"))  # fmt: skip
        return formatting.human_size(self.builder_size - in_use, 4)


class BuildCacheContext(fmt.FormatterContext):
    """A build cache entry (formatter.buildCacheContext)."""

    go_type = "*formatter.buildCacheContext"

    def __init__(self, entry: Mapping[str, Any], trunc: bool, now: float) -> None:
        self.v, self.trunc, self.now = entry, trunc, now

    def ID(self) -> str:
        identifier = str(self.v.get("ID") or "")
        identifier = formatting.truncate_id(identifier) if self.trunc else identifier
        return identifier + "*" if self.v.get("InUse") else identifier

    def Parent(self) -> str:
        parent = ", ".join(self.v.get("Parents") or []) or str(self.v.get("Parent") or "")
        return formatting.truncate_id(parent) if self.trunc else parent

    def CacheType(self) -> str:
        return str(self.v.get("Type") or "")

    def Description(self) -> str:
        return str(self.v.get("Description") or "")

    def Size(self) -> str:
        return formatting.human_size(int(self.v.get("Size") or 0))

    def CreatedAt(self) -> str:
        return formatting.go_rfc3339_time(str(self.v.get("CreatedAt") or ""))

    def CreatedSince(self) -> str:
        return formatting.time_ago(
            formatting.rfc3339_seconds(str(self.v.get("CreatedAt") or "")), self.now
        )

    def LastUsedAt(self) -> str:
        used = self.v.get("LastUsedAt")
        return formatting.go_rfc3339_time(str(used)) if used else ""

    def LastUsedSince(self) -> str:
        used = self.v.get("LastUsedAt")
        return formatting.time_ago(formatting.rfc3339_seconds(str(used)), self.now) if used else ""

    def UsageCount(self) -> str:
        return str(int(self.v.get("UsageCount") or 0))

    def InUse(self) -> str:
        return "true" if self.v.get("InUse") else "false"

    def Shared(self) -> str:
        return "true" if self.v.get("Shared") else "false"


def _builder_size(cache: Entries) -> int:
    return sum(int(entry.get("Size") or 0) for entry in cache if not entry.get("Shared"))


def summary_format(source: str) -> str:
    if source in ("", fmt.TABLE):
        return SUMMARY_TABLE
    return SUMMARY_RAW if source == fmt.RAW else source


def render_summary(usage: Mapping[str, Any], source: str) -> str:
    cache = list(usage.get("BuildCache") or [])
    rows = [
        ImagesSummary(list(usage.get("Images") or []), int(usage.get("LayersSize") or 0)),
        ContainersSummary(list(usage.get("Containers") or [])),
        VolumesSummary(list(usage.get("Volumes") or [])),
        BuildCacheSummary(cache, _builder_size(cache)),
    ]
    return fmt.render(summary_format(source), rows, SUMMARY_HEADER)


def _image_row(image: Mapping[str, Any], trunc: bool, now: float) -> ImageContext:
    """An image under its first tag, as `docker system df -v` lists it."""
    repo, tag = "<none>", "<none>"
    tags = list(image.get("RepoTags") or [])
    if tags and not is_dangling(image):
        try:
            ref = parse_reference(tags[0])
        except ValueError:
            ref = None
        if ref is not None and ref.tag:
            repo, tag = ref.familiar_name, ref.tag
    return ImageContext(image, repo, tag, "", trunc, now)


def _cache_order(entry: Mapping[str, Any]) -> tuple[int, str, str]:
    used = entry.get("LastUsedAt")
    return (0 if used is None else 1, str(used or ""), str(entry.get("ID") or ""))


def render_verbose(usage: Mapping[str, Any], source: str) -> str:
    """``-v``: every entry; the table in four sections, a template run once on the whole."""
    now = time.time()
    table = source in ("", fmt.TABLE)
    containers: list[fmt.FormatterContext] = []
    for container in usage.get("Containers") or []:
        entry = dict(container)
        entry["SizeRootFs"] = 0
        containers.append(ContainerContext(entry, table, now))
    cache = sorted(usage.get("BuildCache") or [], key=_cache_order)
    sections: dict[str, list[fmt.FormatterContext]] = {
        "Images": [_image_row(image, table, now) for image in usage.get("Images") or []],
        "Containers": containers,
        "Volumes": [VolumeContext(volume) for volume in usage.get("Volumes") or []],
        "BuildCache": [BuildCacheContext(entry, table, now) for entry in cache],
    }
    if not table:
        text = fmt.template_text(source)
        try:
            return Template(text).render({**sections})
        except TemplateError as error:
            raise fmt.FormatError(f"{fmt.PARSE_ERROR}: {error}") from None
    builder = formatting.human_size(_builder_size(cache), 4)
    return "".join([
        "Images space usage:\n\n",
        fmt.render(IMAGES_TABLE, sections["Images"], IMAGES_HEADER),
        "\nContainers space usage:\n\n",
        fmt.render(CONTAINERS_TABLE, sections["Containers"], CONTAINERS_HEADER),
        "\nLocal Volumes space usage:\n\n",
        fmt.render(VOLUMES_TABLE, sections["Volumes"], VOLUMES_HEADER),
        f"\nBuild cache usage: {builder}\n\n",
        fmt.render(CACHE_TABLE, sections["BuildCache"], CACHE_HEADER),
    ])  # fmt: skip
