"""Write the results as Markdown tables and a PNG chart (median bars, min-max whiskers)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from benchmarks.cases import Result

BASE = "dockerd"


def fmt(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def table(result: Result) -> str:
    lines = [
        f"### {result.title}",
        "",
        "| engine | median | min | max | ratio to dockerd |",
        "|---|---|---|---|---|",
    ]
    base_values = result.samples.get(BASE)
    base = statistics.median(base_values) if base_values else None
    for name, values in result.samples.items():
        median = statistics.median(values)
        ratio = f"{median / base:.2f}" if base else "n/a"
        lines.append(
            f"| {name} | {fmt(median, result.unit)} | {fmt(min(values), result.unit)} | "
            f"{fmt(max(values), result.unit)} | {ratio} |"
        )
    return "\n".join(lines)


def write_markdown(path: Path, results: list[Result], header: str) -> None:
    body = "\n\n".join(table(r) for r in results)
    path.write_text(f"# Benchmark results\n\n{header}\n\n{body}\n")


def write_chart(path: Path, results: list[Result]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 4.6, rows * 2.6), squeeze=False)
    colors = {
        "doca": "tab:blue",
        "doca rootless": "tab:cyan",
        "dockerd": "tab:gray",
        "podman": "tab:purple",
    }
    for ax, result in zip(axes.flat, results, strict=False):
        names = list(result.samples)
        medians = [statistics.median(result.samples[n]) for n in names]
        low = [m - min(result.samples[n]) for m, n in zip(medians, names, strict=True)]
        high = [max(result.samples[n]) - m for m, n in zip(medians, names, strict=True)]
        ax.barh(
            names,
            medians,
            xerr=[low, high],
            color=[colors.get(n, "tab:orange") for n in names],
            capsize=3,
        )
        ax.set_title(result.title.replace("`", ""), fontsize=8)
        ax.set_xlabel(result.unit, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.invert_yaxis()
    for ax in list(axes.flat)[len(results) :]:
        ax.axis("off")
    fig.suptitle("Doca vs dockerd and podman: median, whiskers min-max", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the suptitle
    fig.savefig(path, dpi=110)
    plt.close(fig)
