"""Tests of the engine inside a VM (engine_vm)."""
