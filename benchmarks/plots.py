"""Pictures of the benchmark tables for the docs: reads ``benchmarks/results/*.md``.

    python benchmarks/plots.py

Writes ``docs/img/forecast.png``, ``imputation.png``, ``anomaly.png`` and ``speed.png``: each
a bar chart of the headline table of one results file, tsheads in blue and peers in grey.
Run it after the benchmarks; it reads their Markdown, so it needs no data and no peers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def table_after(path: Path, heading: str) -> pd.DataFrame:
    """The first Markdown table after the line starting with ``heading``, as text cells
    (bold marks and thousands separators removed), indexed by its first column."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([c.strip().replace("**", "").replace(",", "") for c in
                         line.strip("|").split("|")])
        elif rows:
            break
    frame = pd.DataFrame(rows[2:], columns=rows[0])
    return frame.set_index(frame.columns[0])


def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.apply(pd.to_numeric, errors="coerce")


def colours(names) -> list[str]:
    return ["tab:blue" if name.startswith("tsheads") else "0.6" for name in names]


def grouped_bars(ax, frame: pd.DataFrame, ylabel: str) -> None:
    """One group of bars per column, one bar per row (method)."""
    width = 0.8 / len(frame)
    for i, (name, row) in enumerate(frame.iterrows()):
        shade = plt.cm.Blues(0.5 + 0.5 * i / len(frame)) if name.startswith("tsheads") else \
            plt.cm.Greys(0.3 + 0.5 * i / len(frame))
        ax.bar(np.arange(len(frame.columns)) + i * width, row.to_numpy(), width, label=name,
               color=shade)
    ax.set_xticks(np.arange(len(frame.columns)) + 0.4 - width / 2, frame.columns)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def table_plot(file: str, heading: str, ylabel: str, xlabel: str, title: str,
               name: str) -> Path:
    """Grouped bars of one results table (methods x columns); fine-tuned rows left out."""
    table = numbers(table_after(RESULTS / file, heading)).dropna(how="all")
    table = table[~table.index.str.contains("fine-tuned")]
    fig, ax = plt.subplots(figsize=(12, 4))
    grouped_bars(ax, table, ylabel)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=10)
    return save(fig, name)


def forecast_plot() -> Path:
    return table_plot("forecast.md", "### MSE by horizon", "ETTh1 MSE (lower is better)",
                      "horizon", "Forecasting ETTh1 (zero-shot unless noted)", "forecast.png")


def imputation_plot() -> Path:
    return table_plot("impute.md", "## MSE, hybrid masks", "ETTh1 MSE on hidden points",
                      "share hidden (TSPulse hybrid masks)", "Imputation, zero-shot",
                      "imputation.png")


def anomaly_plot() -> Path:
    path = RESULTS / "anomaly.md"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, heading in zip(axes, ("## NAB", "## SKAB"), strict=True):
        table = numbers(table_after(path, heading))["VUS-PR"].dropna().sort_values()
        ax.barh(table.index, table.to_numpy(), color=colours(table.index))
        ax.set_xlabel("average VUS-PR (higher is better)")
        ax.set_title(heading.strip("# "), loc="left", fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
    return save(fig, "anomaly.png")


def speed_plot() -> Path:
    path = RESULTS / "speed.md"
    ratios = table_after(path, "## Runtime: compiled vs eager")
    ratios["batch"] = pd.to_numeric(ratios["batch"]).astype(int)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for task, group in ratios.groupby(level=0):
        eager = pd.to_numeric(group["eager windows/s"])
        compiled = pd.to_numeric(group["compiled windows/s"])
        left.plot(group["batch"], eager, marker="o", label=f"{task}, eager")
        left.plot(group["batch"], compiled, marker="x", ls="--", label=f"{task}, compiled")
    left.set_xscale("log", base=2)
    left.set_xlabel("windows per model call")
    left.set_ylabel("windows per second")
    left.legend(fontsize=7)
    left.set_title("Runtime throughput", loc="left", fontsize=10)
    peers = table_after(path, "## Estimators vs peers")
    peers = peers[~peers["method"].str.contains("first call")]
    ratio = pd.to_numeric(peers["peer's seconds / this"])
    labels = [f"{task.split(':')[0]}: {m}" for task, m in zip(peers.index, peers["method"],
                                                               strict=True)]
    right.barh(labels, ratio.to_numpy(), color=colours(peers["method"]))
    right.set_xscale("log")
    right.axvline(1, color="k", lw=0.8)
    right.set_xlabel("speed relative to the task's peer (right of 1: faster)")
    right.tick_params(axis="y", labelsize=7)
    right.set_title("Estimators vs peers", loc="left", fontsize=10)
    return save(fig, "speed.png")


def save(fig, name: str) -> Path:
    IMG.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    path = IMG / name
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def main() -> None:
    for draw in (forecast_plot, imputation_plot, anomaly_plot, speed_plot):
        try:
            print(f"wrote {draw()}")
        except (FileNotFoundError, StopIteration, KeyError) as err:
            print(f"{draw.__name__}: skipped ({type(err).__name__}: {err})", file=sys.stderr)


if __name__ == "__main__":
    main()
