"""Runs inside the VM: PID 1 and what it starts."""
