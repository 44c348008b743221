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


def _panels(columns: list, draw, path: str | Path) -> Path:
    """One row of axes per column, each drawn by ``draw(ax, column)``, saved as a PNG."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(columns), 1, figsize=(11, 2.4 * len(columns)), squeeze=False)
    for ax, col in zip(axes[:, 0], columns, strict=True):
        draw(ax, col)
        ax.set_title(str(col), loc="left", fontsize=9)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_imputation(
    original: pd.DataFrame, filled: pd.DataFrame, path: str | Path, max_channels: int = 6
) -> Path:
    """One panel per channel: observed values as a line, filled points marked in orange.

    ``filled`` may hold rows ``original`` lacks (timestamps missing from its grid): they
    are drawn as filled points."""
    original = original.reindex(filled.index)

    def draw(ax, col) -> None:
        gaps = original[col].isna()
        ax.plot(filled.index, filled[col].where(~gaps), color="0.25", lw=0.8, label="observed")
        ax.plot(filled.index, filled[col].where(gaps), color="tab:orange", lw=1.4,
                marker=".", ms=3, label="filled")

    return _panels(list(original.columns[:max_channels]), draw, path)


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
    level: float | None = None,
    max_channels: int = 6,
    tail: int = 300,
) -> Path:
    """One panel per series: the last ``tail`` steps, the forecast and its interval."""

    def draw(ax, col) -> None:
        recent = history[col].iloc[-tail:]
        ax.plot(recent.index, recent, color="0.25", lw=0.8, label="history")
        ax.plot(forecast.index, forecast[col], color="tab:blue", lw=1.4, label="forecast")
        if level is not None:
            lo, hi = forecast[f"{col}-lo-{level:g}"], forecast[f"{col}-hi-{level:g}"]
            ax.fill_between(forecast.index, lo, hi, color="tab:blue", alpha=0.2,
                            label=f"{level:g} % interval")

    return _panels(list(history.columns[:max_channels]), draw, path)


def plot_detection(
    frame: pd.DataFrame,
    result: pd.DataFrame,
    threshold: float,
    path: str | Path,
    max_channels: int = 5,
) -> Path:
    """One panel per channel with flagged rows in red, and a last panel of the score.

    ``result`` may hold rows ``frame`` lacks (timestamps missing from its grid): the
    series is drawn on the result's rows, with gaps there."""
    frame = frame.reindex(result.index)
    flagged = result["anomaly"].to_numpy()

    def draw(ax, col) -> None:
        if col == "anomaly_score":
            ax.plot(result.index, result[col], color="tab:purple", lw=0.8, label="score")
            ax.axhline(threshold, color="tab:red", ls="--", lw=0.8, label="threshold")
            return
        ax.plot(frame.index, frame[col], color="0.25", lw=0.8, label="series")
        ax.scatter(frame.index[flagged], frame[col].to_numpy()[flagged], color="tab:red",
                   s=8, zorder=3, label="flagged")

    return _panels([*frame.columns[:max_channels], "anomaly_score"], draw, path)


def plot_demo(
    hidden: pd.DataFrame,
    filled: pd.DataFrame,
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
) -> Path:
    """The demo's picture: a stretch with filled gaps above, the forecast year below."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6))
    col = hidden.columns[0]
    gaps = hidden[col].isna()
    top.plot(filled.index, filled[col].where(~gaps), color="0.25", lw=0.8, label="observed")
    top.plot(filled.index, filled[col].where(gaps), color="tab:orange", marker=".", ms=3,
             lw=1.2, label="filled by tsheads")
    top.set_title("filling hidden values and gaps", loc="left", fontsize=9)
    bottom.plot(history.index, history[col], color="0.25", lw=0.8, label="history")
    bottom.plot(forecast.index, forecast[col], color="tab:blue", lw=1.4, label="forecast")
    bottom.fill_between(forecast.index, forecast[f"{col}-lo-80"], forecast[f"{col}-hi-80"],
                        color="tab:blue", alpha=0.2, label="80 % interval")
    bottom.set_title("forecasting the last year", loc="left", fontsize=9)
    for ax in (top, bottom):
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
