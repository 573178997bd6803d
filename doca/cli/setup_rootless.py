"""`doca setup rootless`: whether this user can run a rootless engine, and what to do where not.

The findings are the engine's own (``engine.rootless.prerequisites``), so this says exactly what
``doca-engine --rootless`` would refuse to start without. Exit status 0 when nothing required
is missing; what it would do without (outbound network, resource limits) is a warning.
"""

from __future__ import annotations

import os
import sys

import click

from doca.cli.runner import GENERAL_ERROR
from engine.rootless.prerequisites import Finding, check, gather, missing


def render(findings: list[Finding]) -> list[str]:
    """One line per finding, then how to fix each that failed (pure)."""
    lines = []
    for finding in findings:
        mark = "OK" if finding.ok else ("MISSING" if finding.required else "WARNING")
        lines.append(f"[{mark}] {finding.what}: {finding.detail}")
        lines.extend(f"    {step}" for step in finding.fix if not finding.ok)
    return lines


@click.group("setup")
def setup() -> None:
    """Check and prepare this host for Doca."""


@setup.command("rootless")
def rootless() -> None:
    """Check the prerequisites of a rootless engine for the current user."""
    if os.geteuid() == 0:
        click.echo(
            "doca setup rootless: run this as the user who will run the engine, not as root",
            err=True,
        )
        sys.exit(GENERAL_ERROR)
    findings = check(gather())
    for line in render(findings):
        click.echo(line)
    problems = missing(findings, required_only=True)
    if problems:
        click.echo(f"{len(problems)} prerequisite(s) missing; see above.", err=True)
        sys.exit(GENERAL_ERROR)
    if missing(findings):
        click.echo("Ready, with the limitations above: run 'doca-engine --rootless'.")
    else:
        click.echo("Ready: run 'doca-engine --rootless'.")


COMMANDS = (setup,)
