"""The engine inside a small Linux VM, for hosts that cannot run Linux containers themselves.

``image`` builds the VM's disk image from Debian packages (cached per recipe and engine
version), ``qemu_command`` turns options into QEMU's command line, ``machine`` runs QEMU and
talks QMP to it, ``forward`` serves the engine's socket on the host, ``service`` is the host
process that owns one VM, and ``control`` starts, stops and inspects it for the CLI and the
desktop app. ``guest`` runs inside the VM as PID 1.
"""
