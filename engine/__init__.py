"""doca-engine: a daemon that speaks the Docker Engine API over a unix socket."""

__version__ = "0.1.0"
