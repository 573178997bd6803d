"""Client side of the Distribution v2 / OCI registry protocol: pull and push, nothing stored."""
