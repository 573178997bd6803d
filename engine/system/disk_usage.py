"""``GET /system/df``: what images, containers, volumes and the build cache take on disk, and
what they share."""

from __future__ import annotations

from typing import Any

from engine.build.cache import BuildCache
from engine.build.cache_usage import usage_rows
from engine.containers.service import ContainerService
from engine.containers.views import summary
from engine.filters import Filters
from engine.images.service import ImageService
from engine.meta.disk import directory_size
from engine.volumes.service import VolumeService


def container_sizes(containers: ContainerService, container_id: str) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): the container's own changes, and those plus its image."""
    record = containers.store.get(container_id)
    rw = directory_size(containers.lifecycle.paths(record).upper)
    image = containers.images.store.images.get(record.image_id)
    return rw, rw + (image.size if image else 0)


def disk_usage(
    images: ImageService,
    containers: ContainerService,
    volumes: VolumeService,
    build_cache: BuildCache,
) -> dict[str, Any]:
    """Blocking (walks the container and volume directories): call from a thread."""
    image_rows = images.list_images(Filters(), all_images=True, shared_size=True)
    per_image: dict[str, int] = {}
    container_rows = []
    for record in containers.store:
        per_image[record.image_id] = per_image.get(record.image_id, 0) + 1
        row = summary(record)
        row["SizeRw"], row["SizeRootFs"] = container_sizes(containers, record.id)
        container_rows.append(row)
    for row in image_rows:
        row["Containers"] = per_image.get(row["Id"], 0)
    layers_size = sum(
        images.store.snapshots.info(chain).size for chain in images.store.snapshots.chain_ids()
    )
    volume_rows = []
    for row in volumes.list_volumes(Filters())["Volumes"]:
        row["UsageData"] = {
            "Size": volumes.size(row["Name"]),
            "RefCount": len(volumes.usage(row["Name"])),
        }
        volume_rows.append(row)
    return {
        "LayersSize": layers_size,
        "Images": image_rows,
        "Containers": container_rows,
        "Volumes": volume_rows,
        "BuildCache": usage_rows(build_cache, images, containers),
    }
