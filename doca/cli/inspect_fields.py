"""The Go field names of the Engine API's inspect types (container, image, volume, network).

`docker inspect` runs a template on the types it decodes first: a field the engine left out of
its JSON (``omitempty``) is then a zero value, not an error, while a name no type has fails.
Reading raw JSON, a missing key is looked up here to tell the two apart."""

from __future__ import annotations

_CONTAINER = """
Id Created Path Args State Image ResolvConfPath HostnamePath HostsPath LogPath Node Name
RestartCount Driver Platform MountLabel ProcessLabel AppArmorProfile ExecIDs HostConfig
GraphDriver SizeRw SizeRootFs Mounts Config NetworkSettings ImageManifestDescriptor
Status Running Paused Restarting OOMKilled Dead Pid ExitCode Error StartedAt FinishedAt Health
FailingStreak Log Start End Output
Type Source Destination Mode RW Propagation
"""
_CONFIG = """
Hostname Domainname User AttachStdin AttachStdout AttachStderr ExposedPorts Tty OpenStdin
StdinOnce Env Cmd Healthcheck ArgsEscaped Volumes WorkingDir Entrypoint NetworkDisabled
MacAddress OnBuild Labels StopSignal StopTimeout Shell Test Interval Timeout StartPeriod
StartInterval Retries
"""
_HOST_CONFIG = """
Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove VolumeDriver
VolumesFrom ConsoleSize Annotations CapAdd CapDrop CgroupnsMode Dns DnsOptions DnsSearch
ExtraHosts GroupAdd IpcMode Cgroup Links OomScoreAdj PidMode Privileged PublishAllPorts
ReadonlyRootfs SecurityOpt StorageOpt Tmpfs UTSMode UsernsMode ShmSize Sysctls Runtime
Isolation CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice
BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod
CpuQuota CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus CpusetMems Devices DeviceCgroupRules
DeviceRequests KernelMemory KernelMemoryTCP MemoryReservation MemorySwap MemorySwappiness
OomKillDisable PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth
MaskedPaths ReadonlyPaths Init MaximumRetryCount Config PathOnHost PathInContainer
CgroupPermissions Soft Hard HostIp HostPort
"""
_NETWORK_SETTINGS = """
Bridge SandboxID SandboxKey Ports HairpinMode LinkLocalIPv6Address LinkLocalIPv6PrefixLen
SecondaryIPAddresses SecondaryIPv6Addresses EndpointID Gateway GlobalIPv6Address
GlobalIPv6PrefixLen IPAddress IPPrefixLen IPv6Gateway Networks IPAMConfig Aliases DriverOpts
GwPriority NetworkID DNSNames IPv4Address IPv6Address LinkLocalIPs
"""
_IMAGE = """
Id RepoTags RepoDigests Parent Comment Created DockerVersion Author Config Architecture Variant
Os OsVersion Size GraphDriver RootFS Metadata Descriptor Manifests Container ContainerConfig
VirtualSize Layers LastTagTime Data Name Type
"""
_VOLUME = """
CreatedAt Driver Labels Mountpoint Name Options Scope Status UsageData ClusterVolume RefCount
Size
"""
_NETWORK = """
Name Id Created Scope Driver EnableIPv4 EnableIPv6 IPAM Internal Attachable Ingress ConfigFrom
ConfigOnly Containers Options Labels Peers Services Config Subnet IPRange Gateway
AuxiliaryAddresses EndpointID MacAddress IPv4Address IPv6Address Network
"""


def _fields(*parts: str) -> frozenset[str]:
    return frozenset(" ".join(parts).split())


KNOWN_FIELDS = {
    "container": _fields(_CONTAINER, _CONFIG, _HOST_CONFIG, _NETWORK_SETTINGS),
    "image": _fields(_IMAGE, _CONFIG),
    "volume": _fields(_VOLUME),
    "network": _fields(_NETWORK),
}
# Keys only one kind's JSON has, to tell what an object is.
_MARKS = (("container", "HostConfig"), ("image", "RepoTags"), ("volume", "Mountpoint"),
          ("network", "IPAM"))  # fmt: skip


def known_fields(obj: object) -> frozenset[str]:
    """The field names of the type ``obj`` (an engine's inspect JSON) decodes into."""
    if isinstance(obj, dict):
        for kind, mark in _MARKS:
            if mark in obj:
                return KNOWN_FIELDS[kind]
    return frozenset()
