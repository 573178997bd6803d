"""Media types of the Docker schema2 and OCI image formats, and what a pull asks for."""

from __future__ import annotations

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
# Schema1 is never requested: it is deprecated and dockerd no longer pulls it.
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDISTRIBUTABLE_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

IMAGE_MANIFESTS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEXES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFESTS = IMAGE_MANIFESTS | INDEXES
CONFIGS = frozenset({DOCKER_CONFIG, OCI_CONFIG})

LAYERS_GZIP = frozenset(
    {DOCKER_LAYER, DOCKER_FOREIGN_LAYER, OCI_LAYER_GZIP, OCI_LAYER_NONDISTRIBUTABLE_GZIP}
)
LAYERS_ZSTD = frozenset({OCI_LAYER_ZSTD, OCI_LAYER_NONDISTRIBUTABLE_ZSTD})
LAYERS_UNCOMPRESSED = frozenset({OCI_LAYER, OCI_LAYER_NONDISTRIBUTABLE})
LAYERS = LAYERS_GZIP | LAYERS_ZSTD | LAYERS_UNCOMPRESSED
# Foreign layers live outside the registry (their descriptor carries ``urls``); a push skips them.
LAYERS_FOREIGN = frozenset(
    {
        DOCKER_FOREIGN_LAYER,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    }
)

# The order is the preference a registry may use when it can serve several forms.
PULL_ACCEPT = ", ".join(
    (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX),
)


def base(content_type: str) -> str:
    """A Content-Type without parameters, lower-cased: ``…+json; charset=utf-8`` → ``…+json``."""
    return content_type.split(";", 1)[0].strip().lower()
