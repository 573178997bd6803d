"""An instruction's ``--name=value`` flags, checked as buildkit's ``BFlags`` checks them."""

from __future__ import annotations

FlagValue = str | bool | list[str]

# Every flag buildkit's Dockerfile frontend knows, per instruction; the parser refuses others
# before the build starts. The builder asks for the subset it carries out.
KNOWN_FLAGS: dict[str, dict[str, type]] = {
    "FROM": {"platform": str},
    "COPY": {
        "chown": str,
        "from": str,
        "chmod": str,
        "link": bool,
        "exclude": list,
        "parents": bool,
    },
    "ADD": {
        "chown": str,
        "chmod": str,
        "link": bool,
        "keep-git-dir": bool,
        "checksum": str,
        "unpack": bool,
        "exclude": list,
    },
    "RUN": {"mount": list, "network": str, "security": str, "device": list},
    "HEALTHCHECK": {
        "interval": str,
        "timeout": str,
        "start-period": str,
        "start-interval": str,
        "retries": str,
    },
}


def parse_flag_words(flags: list[str], allowed: dict[str, type]) -> dict[str, FlagValue]:
    """The flags that were given, by name: ``str`` and ``list`` flags need ``=value``, ``bool``
    flags take nothing, ``=true`` or ``=false``. ``ValueError`` worded as buildkit's."""
    values: dict[str, FlagValue] = {}
    for flag in flags:
        if flag == "--":
            break
        if not flag.startswith("--"):
            raise ValueError(f"arg should start with -- : {flag}")
        written, has_value, value = flag.partition("=")
        name = written[2:]
        kind = allowed.get(name)
        if kind is None:
            raise ValueError(with_suggestion(f"unknown flag: {written}", name, list(allowed)))
        if name in values and kind is not list:
            raise ValueError(f"duplicate flag specified: {written}")
        if kind is bool:
            if has_value and not value:
                raise ValueError(f"missing a value on flag: {written}")
            if value.lower() not in ("", "true", "false"):
                raise ValueError(f"expecting boolean value for flag {written}, not: {value}")
            values[name] = value.lower() != "false"
            continue
        if not has_value:
            raise ValueError(f"missing a value on flag: {written}")
        if kind is list:
            previous = values.get(name)
            values[name] = [*(previous if isinstance(previous, list) else []), value]
        else:
            values[name] = value
    return values


def with_suggestion(message: str, value: str, options: list[str], fold: bool = False) -> str:
    """``message (did you mean x?)`` when an option is within two edits of ``value``, as
    buildkit's ``suggest.WrapError``; ``fold`` compares case-insensitively and answers in
    the case ``value`` was written in. Ties (which Go leaves to map order) go to the option
    that is closer counting a swap of two letters as one edit: "chwon" means "chown"."""
    wanted = value.lower() if fold else value
    best: tuple[int, int, str] | None = None
    for option in options:
        candidate = option.lower() if fold else option
        if candidate == wanted:
            return message
        distance = _distance(wanted, candidate, swaps=False)
        if distance < 3:
            key = (distance, _distance(wanted, candidate, swaps=True), candidate)
            best = key if best is None else min(best, key)
    if best is None:
        return message
    suggestion = best[2]
    if fold and value != value.lower() and value == value.upper():
        suggestion = suggestion.upper()
    return f"{message} (did you mean {suggestion}?)"


def _distance(a: str, b: str, swaps: bool) -> int:
    """Levenshtein distance; with ``swaps``, adjacent transpositions cost one edit too."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if swaps and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, rows[-2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]
