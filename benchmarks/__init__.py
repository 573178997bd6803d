"""Side-by-side benchmarks of Doca against dockerd and podman (``python -m benchmarks``)."""
