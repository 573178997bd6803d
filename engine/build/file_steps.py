"""COPY, ADD and WORKDIR: steps that change files without running anything."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.build.context import checksum
from engine.build.copier import copy_sources, match_sources, parse_chmod, resolve_chown
from engine.build.dockerfile import Heredoc, Instruction
from engine.build.words import Words
from engine.errors import InvalidParameter

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GIT = re.compile(r"^(git@|github\.com/)")


@dataclass
class CopyPlan:
    """One COPY/ADD with its words substituted and its sources found."""

    keyword: str
    sources: list[str]  # matched, relative to the source root
    dest: str
    chown: str
    chmod: int | None
    from_: str  # --from, as written after substitution; "" for the build context
    heredocs: list[Heredoc]
    kind: str = "file"  # "file", "dir" or "multi", as the history text names the sources

    @property
    def extract(self) -> bool:
        return self.keyword == "ADD"

    def describe(self, digest: str) -> str:
        """The history text, like the classic builder's ``COPY file:<sum> in /dst``."""
        flags = ""
        if self.chown:
            flags += f"--chown={self.chown} "
        if self.chmod is not None:
            flags += f"--chmod={self.chmod:o} "
        kind = "multi" if len(self.sources) + len(self.heredocs) > 1 else self.kind
        return f"{self.keyword} {flags}{kind}:{digest.removeprefix('sha256:')} in {self.dest} "


def plan_copy(
    inst: Instruction, words: Words, flags: Mapping[str, object]
) -> tuple[CopyPlan, list[str]]:
    """The plan and the source patterns still to match (against the context or --from)."""
    json_form = inst.json
    parts = [words.word(p) for p in json_form] if json_form is not None else words.words(inst.rest)
    if len(parts) < 2:
        raise InvalidParameter(
            f"{inst.keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined."
        )
    *patterns, dest = parts
    heredoc_names = {f"<<{h.name}" for h in inst.heredocs} | {f"<<-{h.name}" for h in inst.heredocs}
    patterns = [p for p in patterns if p not in heredoc_names]
    for pattern in patterns:
        if _URL.match(pattern) or _GIT.match(pattern):
            if inst.keyword == "COPY":
                raise InvalidParameter("source can't be a URL for COPY")
            raise InvalidParameter(
                f"ADD failed: {pattern} is a remote URL and this engine builds offline: "
                "download the file into the build context and ADD or COPY it from there"
            )
    chown = words.word(str(flags.get("chown") or ""))
    chmod_text = words.word(str(flags.get("chmod") or ""))
    plan = CopyPlan(
        keyword=inst.keyword,
        sources=[],
        dest=dest,
        chown=chown,
        chmod=parse_chmod(chmod_text) if chmod_text else None,
        from_=words.word(str(flags.get("from") or "")),
        heredocs=list(inst.heredocs),
    )
    return plan, patterns


def find_sources(plan: CopyPlan, src_root: Path, patterns: list[str]) -> str:
    """Match the patterns in ``src_root``; returns the sources' checksum for the cache key."""
    if patterns:
        plan.sources = match_sources(
            src_root, patterns, instruction=plan.keyword, in_context=not plan.from_
        )
    if len(plan.sources) + len(plan.heredocs) > 1 and not (
        plan.dest.endswith("/") or plan.dest.endswith("/.")
    ):
        raise InvalidParameter(
            f"When using {plan.keyword} with more than one source file, the destination must "
            "be a directory and end with a /"
        )
    if len(plan.sources) + len(plan.heredocs) > 1:
        plan.kind = "multi"
    elif plan.sources and (src_root / plan.sources[0].lstrip("/")).is_dir():
        plan.kind = "dir"
    parts = [checksum(src_root, plan.sources)] if plan.sources else []
    for heredoc in plan.heredocs:
        parts.append(f"{heredoc.name}:{heredoc.content}")
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def apply_copy(plan: CopyPlan, src_root: Path, root: Path, workdir: str) -> None:
    """Carry out the plan on the workspace ``root``."""
    owner = resolve_chown(plan.chown, root) if plan.chown else None
    if plan.sources:
        copy_sources(
            src_root, plan.sources, root, plan.dest, workdir,
            owner=owner, mode=plan.chmod, extract_archives=plan.extract,
            # As dockerd: files from another stage or image keep their owners unless --chown.
            preserve_ownership=bool(plan.from_) and owner is None,
        )  # fmt: skip
    if plan.heredocs:
        with tempfile.TemporaryDirectory(prefix="heredoc-") as tmp:
            names = []
            for heredoc in plan.heredocs:
                (Path(tmp) / heredoc.name).write_text(heredoc.content)
                os.chmod(Path(tmp) / heredoc.name, 0o644)
                names.append(heredoc.name)
            copy_sources(
                Path(tmp), names, root, plan.dest, workdir,
                owner=owner, mode=plan.chmod, extract_archives=False,
            )  # fmt: skip


def workdir_path(current: str, given: str) -> str:
    if not given:
        raise InvalidParameter("WORKDIR requires exactly one argument")
    # Go's path.Clean: unlike POSIX normpath, a leading "//" is one "/"
    return "/" + posixpath.normpath(posixpath.join(current or "/", given)).lstrip("/")
