"""The table models of the Containers, Images and Volumes panels, fed by their stores."""

from __future__ import annotations

from desktop_app.qtmodels.row_model import Column, RowTableModel
from desktop_app.state.resources import ContainersStore, ImagesStore, VolumesStore
from desktop_app.state.rows import (
    ContainerRow,
    ImageRow,
    VolumeRow,
    container_rows,
    image_rows,
    image_users,
    images_in_use,
    short_id,
    volume_rows,
    volume_users,
)
from desktop_app.state.signatures import SignatureChecks

CONTAINER_COLUMNS: list[Column[ContainerRow]] = [
    Column("Project", lambda r: r.project, lambda r: r.service and f"service {r.service}"),
    Column("Name", lambda r: r.name, lambda r: r.id),
    Column("Image", lambda r: r.image),
    Column("Status", lambda r: r.summary, lambda r: r.status),
    Column("Ports", lambda r: r.ports),
    Column("Created", lambda r: r.created),
]

IMAGE_COLUMNS: list[Column[ImageRow]] = [
    Column("Repository:Tag", lambda r: r.repo_tag),
    Column("ID", lambda r: r.id),
    Column("Size", lambda r: r.size),
    Column("In use", lambda r: "in use" if r.in_use else "", lambda r: ", ".join(r.users)),
    Column("Created", lambda r: r.created),
    Column("Signature", lambda r: r.signature, lambda r: r.signature_detail),
]

VOLUME_COLUMNS: list[Column[VolumeRow]] = [
    Column("Name", lambda r: r.name),
    Column("Driver", lambda r: r.driver),
    Column("Used by", lambda r: ", ".join(r.users)),
    Column("Mountpoint", lambda r: r.mountpoint),
]


class ContainersModel(RowTableModel[ContainerRow]):
    """Containers, Compose projects grouped first (by the ``Project`` column), then by name."""

    def __init__(self, store: ContainersStore) -> None:
        super().__init__(CONTAINER_COLUMNS, key=lambda r: r.id)
        self._store = store
        store.add_listener(self.reload)
        self.reload()

    def reload(self) -> None:
        self.set_rows(container_rows(self._store.rows))


class ImagesModel(RowTableModel[ImageRow]):
    """One row per repo:tag; "in use" comes from the containers store."""

    def __init__(
        self,
        store: ImagesStore,
        containers: ContainersStore,
        signatures: SignatureChecks | None = None,
    ) -> None:
        super().__init__(IMAGE_COLUMNS, key=lambda r: f"{r.key}@{r.id}")
        self._store = store
        self._containers = containers
        self._signatures = signatures
        store.add_listener(self.reload)
        containers.add_listener(self.reload)
        if signatures is not None:
            signatures.add_listener(self.reload)
        self.reload()

    def reload(self) -> None:
        containers = self._containers.rows
        images = self._store.rows
        verdicts = self._signatures.verdicts(images) if self._signatures else {}
        self.set_rows(
            image_rows(images, images_in_use(containers), image_users(containers), verdicts)
        )

    def image_names(self) -> list[str]:
        """Names the run dialog offers: tags, or short IDs of untagged images."""
        return [r.repo_tag if r.key == r.repo_tag else short_id(r.key) for r in self.rows()]


class VolumesModel(RowTableModel[VolumeRow]):
    """Volumes by name; "used by" comes from the containers store, when there is one."""

    def __init__(self, store: VolumesStore, containers: ContainersStore | None = None) -> None:
        super().__init__(VOLUME_COLUMNS, key=lambda r: r.name)
        self._store = store
        self._containers = containers
        store.add_listener(self.reload)
        if containers is not None:
            containers.add_listener(self.reload)
        self.reload()

    def reload(self) -> None:
        users = volume_users(self._containers.rows) if self._containers is not None else {}
        self.set_rows(volume_rows(self._store.rows, users))
