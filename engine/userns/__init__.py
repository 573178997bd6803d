"""User namespaces for containers: dockerd's ``--userns-remap``.

With remapping on, every container (unless it asks for ``--userns=host``) runs in a user
namespace of its own whose root is an unprivileged host UID: the first ID of the remap user's
ranges in /etc/subuid and /etc/subgid (``remap``, ``subids``, ``idmap``).

Storage: idmapped mounts, not a layer store per mapping
-------------------------------------------------------
dockerd keeps a separate data root per mapping (``<data-root>/<uid>.<gid>/``) and chowns every
layer to host IDs as it extracts it: every image is stored (and pulled) once per mapping, and
a container's files are stored with host IDs, so commits, copies and builds shift every owner
back. Doca stores everything with container IDs, once, whatever the mapping, and lets the
kernel translate (Linux 5.19+: overlayfs over idmapped layers; ``overlay``):

* a remapped container's root is overlayfs over the image's layers *and* its own directory
  (``upper``/``work``), each an idmapped clone (``open_tree`` + ``mount_setattr``) through a
  user namespace with the mapping (``namespace``). The container sees its image's files owned
  by its root; what it writes lands in ``upper`` with container IDs. So ``docker commit``,
  ``docker diff``, a build's RUN layers and a stopped container's files (``docker cp``,
  ``docker export``, mounted plainly) need no shifting at all, and a container keeps working
  when the engine's mapping changes or goes away;
* what lives outside the overlay is the host's and carries host IDs, as with dockerd: a new
  volume's root and what the container writes to volumes and bind mounts, its /etc/hosts,
  /etc/hostname and /etc/resolv.conf;
* a running container's root, reached through /proc/PID/root, shows host IDs: ``docker cp``
  maps them back, and writes into it as the remapped root (``process``, ``syscalls``).

The one per-mapping thing on disk is therefore what dockerd also chowns: volume roots and the
container's /etc files; nothing needs a data root of its own.
"""
