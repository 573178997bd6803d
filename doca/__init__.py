"""Doca's client side: the Engine API client, the `doca` CLI, Compose and the credential helper."""

__version__ = "0.1.0"
