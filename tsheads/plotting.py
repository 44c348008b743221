"""Pictures of results (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or pip install 'tsheads[plot]')."
        ) from err
    return plt


def plot_imputation(
    original: pd.DataFrame, filled: pd.DataFrame, path: str | Path, max_channels: int = 6
) -> Path:
    """One panel per channel: observed values as a line, filled points marked in orange."""
    plt = _pyplot()
    columns = list(original.columns[:max_channels])
    fig, axes = plt.subplots(len(columns), 1, figsize=(11, 2.4 * len(columns)), squeeze=False)
    for ax, col in zip(axes[:, 0], columns, strict=True):
        gaps = original[col].isna()
        ax.plot(filled.index, filled[col].where(~gaps), color="0.25", lw=0.8, label="observed")
        ax.plot(filled.index, filled[col].where(gaps), color="tab:orange", lw=1.4,
                marker=".", ms=3, label="filled")
        ax.set_title(str(col), loc="left", fontsize=9)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
