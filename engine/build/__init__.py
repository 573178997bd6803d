"""Building images from Dockerfiles (the classic builder API)."""
