"""The engine in a VM: launch to ``/_ping`` answering through the forwarded socket."""

from __future__ import annotations

from benchmarks.vm_start import run

__all__ = ["run"]
