"""The ``tsheads`` command line: parse -> read -> estimator -> write, no logic of its own."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

PROGRESS_DELAY = 2.0  # seconds a command runs before its progress bar shows

PRETRAIN_EXAMPLE = """example:
  tsheads pretrain --steps 10000 --head-steps 1500 --out tsheads/weights/tiny.pt
  (run it again with the same --out to resume from tiny.ckpt after an interruption)"""


def _pretrain(args: argparse.Namespace) -> int:
    from tsheads.nn import EncoderConfig
    from tsheads.pretrain import TrainConfig, pretrain

    if args.steps == 0 and not args.init:
        raise ValueError("--steps must be >= 1 (or 0 with --init, to train only the stage-two "
                         "or stage-three heads of those weights), got 0.")
    encoder = EncoderConfig(d_model=args.d_model, n_layers=args.n_layers,
                            backbone=args.backbone, patch_length=args.patch_length,
                            season_periods=args.season_periods,
                            detect_period=args.detect_period)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                      lr=args.lr, synthetic_share=args.synthetic_share, encoder=encoder,
                      forecast_weight=args.forecast_weight, head_steps=args.head_steps,
                      warmup=args.warmup, head_lr=args.head_lr, init=args.init,
                      head_forecast=args.head_forecast, mix_share=args.mix_share,
                      imputation_steps=args.imputation_steps,
                      coarse_share=args.coarse_share, device=args.device,
                      workers=args.workers, bf16=args.bf16)
    pretrain(cfg, Path(args.out), real=not args.synthetic_only)
    print(f"wrote {args.out}, its .json and its model card {Path(args.out).with_suffix('.md')}")
    return 0


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="pretrain the encoder by masked reconstruction",
                       epilog=PRETRAIN_EXAMPLE, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=_non_negative_int, required=True,
                   help="stage-one optimiser steps in total (0 with --init: later stages only)")
    p.add_argument("--out", required=True, help="weights file to write (.pt)")
    p.add_argument("--batch-size", type=_positive_int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300, help="warm-up steps of stage one")
    p.add_argument("--synthetic-share", type=_share, default=0.3)
    p.add_argument("--synthetic-only", action="store_true", help="skip the real corpus")
    p.add_argument("--mix-share", type=_share, default=0.0,
                   help="share of real windows that mix 2-3 standardised series (TSMixup)")
    p.add_argument("--coarse-share", type=_share, default=0.0,
                   help="share of real windows from copies down-sampled by averaging 2-4 steps")
    p.add_argument("--forecast-weight", type=float, default=0.2,
                   help="weight of the forecast head's loss")
    p.add_argument("--head-steps", type=int, default=0,
                   help="stage two: steps for the autoregressive and Fourier heads")
    p.add_argument("--head-lr", type=float, default=1e-3, help="peak learning rate of stage two")
    p.add_argument("--head-forecast", action="store_true",
                   help="stage two trains the direct forecast head too (on the frozen "
                   "encoder: with --steps 0 --init, a new --season-periods head alone)")
    p.add_argument("--imputation-steps", type=_non_negative_int, default=0,
                   help="stage three: steps for the imputation head (the reconstruction "
                   "weighed against seasonal shape fills) on the frozen encoder; weights "
                   "continued without it keep no imputation head")
    p.add_argument("--init", help="weights to continue from (same sizes; fresh optimiser and "
                   "schedule; another --seed draws other windows)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-layers", type=int, default=6)
    p.add_argument("--patch-length", type=int, default=8)
    p.add_argument("--backbone", choices=("mixer", "transformer"), default="mixer")
    p.add_argument("--season-periods", type=_periods, default=(),
                   help="comma-separated periods, starting with 1, whose seasonal repeats "
                   "the direct forecast head weighs against its own forecast (e.g. "
                   "1,7,12,24,52,168); none: the plain head")
    p.add_argument("--detect-period", action="store_true",
                   help="with --season-periods: also repeat each window's own period, found "
                   "from its autocorrelation")
    p.add_argument("--device", default="cpu",
                   help="torch device to train on: cpu (default) or cuda")
    p.add_argument("--workers", type=_non_negative_int, default=0,
                   help="processes that draw training windows (a GPU needs several); 0: the "
                   "training process draws them, and a resumed run continues bit for bit")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast of the forward passes (on a GPU)")
    p.set_defaults(func=_pretrain)


IMPUTE_EXAMPLE = """example:
  tsheads impute sensors.csv -o sensors-filled.csv --plot filled.png
  (every empty cell is filled; observed cells are written back unchanged)"""


def _impute(args: argparse.Namespace) -> int:
    from tsheads import Imputer

    if _on_cluster(args):
        return _run_on_cluster(args, lambda f: Imputer(
            weights=args.weights, cross_series=False).fit_transform(f, freq=args.freq))
    out = _check_output(args.output, args.force)
    frame = _read(args)
    _check_plot(args.plot, frame, args.input)
    imputer = Imputer(weights=args.weights, progress=True, reindex=not args.keep_rows)
    filled = imputer.fit_transform(frame, freq=args.freq)
    filled.to_csv(out)
    n = int(filled.notna().to_numpy().sum() - frame.notna().to_numpy().sum())
    print(f"filled {n:,} missing values in {frame.shape[1]} columns{_added(frame, filled)}; "
          f"wrote {out}")
    if args.plot:
        from tsheads.plotting import plot_imputation

        print(f"plot written to {plot_imputation(frame, filled, args.plot)}")
    return 0


FORECAST_EXAMPLE = """example:
  tsheads forecast sales.csv --horizon 24 --level 80 -o forecast.csv --plot forecast.png
  (one row per future timestamp; columns <series>, <series>-lo-80, <series>-hi-80)"""


def _forecast(args: argparse.Namespace) -> int:
    from tsheads import Forecaster
    from tsheads.frames import flat_columns

    levels = [args.level] if args.level else None
    if _on_cluster(args):  # backtest intervals pool errors over all series: Fourier ones here
        forecaster = Forecaster(weights=args.weights,
                                intervals="fourier" if levels else "auto")
        return _run_on_cluster(args, lambda f: forecaster.forecast(
            f, args.horizon, level=levels, freq=args.freq))
    out = _check_output(args.output, args.force)
    frame = _read(args)
    _check_plot(args.plot, frame, args.input)
    with _stages("forecast", 2) as bar:
        forecaster = Forecaster(weights=args.weights).fit(frame, freq=args.freq)
        bar.update()
        result = forecaster.predict(args.horizon, level=levels)
        bar.update()
    flat = flat_columns(result, forecaster.alias)
    flat.to_csv(out)
    print(f"forecast {args.horizon} steps for {frame.shape[1]} series; wrote {out}")
    if args.plot:
        from tsheads.plotting import plot_forecast

        print(f"plot written to {plot_forecast(frame, flat, args.plot, level=args.level)}")
    return 0


DETECT_EXAMPLE = """example:
  tsheads detect sensors.csv -o scores.csv --fit-rows 5000 --plot scores.png
  (columns anomaly_score and anomaly (True/False) per row; --per-channel adds <column>-score)"""


def _detect(args: argparse.Namespace) -> int:
    from tsheads import AnomalyDetector
    from tsheads.estimators.anomaly import LABEL_NAME, SCORE_NAME

    if _on_cluster(args):
        raise ValueError("detect learns its threshold from all fit rows in one process; "
                         "--scheduler and --workers serve impute and forecast for now.")
    out = _check_output(args.output, args.force)
    frame = _read(args)
    _check_plot(args.plot, frame, args.input)
    detector = AnomalyDetector(weights=args.weights, contamination=args.contamination,
                               reindex=not args.keep_rows)
    with _stages("detect", 3 if args.per_channel else 2) as bar:
        detector.fit(frame.iloc[: args.fit_rows] if args.fit_rows else frame, freq=args.freq)
        bar.update()
        scores = detector.anomaly_score(frame, freq=args.freq)
        bar.update()
        per = detector.anomaly_score(frame, per_channel=True, freq=args.freq) \
            if args.per_channel and scores.ndim == 1 else None
    if scores.ndim == 2:  # a long file (unique_id, ds, y): each series is scored on its own
        result = scores.assign(**{LABEL_NAME: scores[SCORE_NAME] > detector.threshold_})
        result.to_csv(out, index=False)
        print(f"scored {len(result):,} rows of {scores.iloc[:, 0].nunique():,} series"
              f"{_added(frame, result)}; {int(result[LABEL_NAME].sum()):,} flagged; wrote {out}")
        return 0
    result = scores.to_frame(SCORE_NAME).assign(**{LABEL_NAME: scores > detector.threshold_})
    if per is not None:
        result = result.join(per.add_suffix("-score"))
    result.to_csv(out)
    print(f"scored {len(result):,} rows of {frame.shape[1]} columns{_added(frame, result)}; "
          f"{int(result[LABEL_NAME].sum()):,} flagged; wrote {out}")
    if args.plot:
        from tsheads.plotting import plot_detection

        path = plot_detection(frame, result, detector.threshold_, args.plot)
        print(f"plot written to {path}")
    return 0


def _on_cluster(args: argparse.Namespace) -> bool:
    return args.scheduler is not None or args.workers is not None


def _run_on_cluster(args: argparse.Namespace, task) -> int:
    """Long CSV/Parquet files through Dask: read, run ``task`` per whole series, write parts."""
    from tsheads.distributed import run_files

    if args.plot:
        raise ValueError("--plot draws a file read in one process; drop it with --scheduler "
                         "or --workers.")
    _check_output(args.output, args.force)
    files = run_files(args.input, args.output, task, scheduler=args.scheduler,
                      workers=args.workers)
    print(f"wrote {len(files)} partition files to {args.output}")
    return 0


def _read(args: argparse.Namespace):
    from tsheads.csvio import read_csv

    return read_csv(args.input, time_col=args.time_col, columns=_columns(args.columns),
                    date_format=args.date_format)


def _added(frame, result) -> str:
    """' (2 timestamps added, see the warning)' when the output has rows the input lacked."""
    extra = len(result) - len(frame)
    if extra <= 0:
        return ""
    return f" ({len(frame):,} read + {extra:,} missing timestamps added; --keep-rows drops them)"


@contextlib.contextmanager
def _stages(what: str, total: int):
    """A progress bar over the steps of a command, shown only once it runs over 2 seconds."""
    from tqdm import tqdm

    with tqdm(total=total, desc=f"tsheads {what}", unit="stage", delay=PROGRESS_DELAY,
              leave=False, file=sys.stderr) as bar:
        yield bar


def _demo(args: argparse.Namespace) -> int:
    from tsheads.demo import run

    print(run(plot=None if args.no_plot else args.plot, weights=args.weights))
    return 0


def _check_output(path: str, force: bool) -> Path:
    out = Path(path)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it.")
    return out


def _positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1, or a one-line usage error naming the value."""
    return _whole_number(text, 1)


def _non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0, or a one-line usage error naming the value."""
    return _whole_number(text, 0)


def _share(text: str) -> float:
    """An argparse type: a fraction in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text!r}")
    return value


def _periods(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated whole numbers >= 1 ("1,24,168")."""
    return tuple(_positive_int(part) for part in text.split(",") if part.strip())


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
    return value


def _check_plot(plot: str | None, frame, path: str) -> None:
    """Plots draw one panel per column of a wide file; refuse a long one before any work."""
    from tsheads.frames import ID_COL, TARGET_COL, TIME_COL

    long = (ID_COL, TIME_COL, TARGET_COL)
    if plot and set(long) <= set(frame.columns):
        raise ValueError(
            f"--plot draws wide files (a time column and one column per series), but {path} "
            f"is long ({', '.join(long)}); drop --plot or pivot the file to one column per "
            "series."
        )


def _columns(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def _add_io(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="CSV file: a time column and one column per series")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--time-col", help="name of the time column (default: detected)")
    p.add_argument("--columns", help="comma-separated value columns to use (default: all)")
    p.add_argument("--plot", help="also write a PNG picture of the result here")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--weights", help="model weights (.pt) to use instead of the shipped ones")
    p.add_argument("--freq", help="the time step as a pandas alias (e.g. h, D, W-SUN, MS); "
                   "default: inferred from the time column")
    p.add_argument("--date-format", help="how the time column is written, as strftime codes "
                   "(e.g. %%Y-%%m-%%d, %%d/%%m/%%Y, %%y-%%m); default: parsed leniently")


def _add_cluster(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", help="run on the Dask cluster at this address (long files: "
                   "unique_id, ds, y; globs and Parquet allowed; output is a folder of parts)")
    p.add_argument("--workers", type=_positive_int,
                   help="start a local Dask cluster of N processes x 1 thread instead")


def _add_keep_rows(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-rows", action="store_true",
                   help="write exactly the input's rows: timestamps missing from the grid are "
                   "used as gaps but not written (default: written, with a warning)")


def _add_impute(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("impute", help="fill the gaps of a CSV zero-shot", epilog=IMPUTE_EXAMPLE,
                       formatter_class=argparse.RawTextHelpFormatter)
    _add_io(p)
    _add_keep_rows(p)
    _add_cluster(p)
    p.set_defaults(func=_impute)


def _add_forecast(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forecast", help="forecast every column of a CSV zero-shot",
                       epilog=FORECAST_EXAMPLE, formatter_class=argparse.RawTextHelpFormatter)
    _add_io(p)
    p.add_argument("--horizon", type=_positive_int, required=True, help="steps to forecast")
    p.add_argument("--level", type=float, help="also write a prediction interval, e.g. 80")
    _add_cluster(p)
    p.set_defaults(func=_forecast)


def _add_detect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="score every row of a CSV for anomalies zero-shot",
                       epilog=DETECT_EXAMPLE, formatter_class=argparse.RawTextHelpFormatter)
    _add_io(p)
    p.add_argument("--fit-rows", type=_positive_int,
                   help="learn normal behaviour from the first N rows (default: all rows)")
    p.add_argument("--contamination", type=float, default=0.01,
                   help="expected share of anomalous rows; sets the flagging threshold")
    p.add_argument("--per-channel", action="store_true",
                   help="also write each column's own score (a second scoring pass)")
    _add_keep_rows(p)
    _add_cluster(p)
    p.set_defaults(func=_detect)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run tsheads on a real series shipped with statsmodels",
                       epilog="example:\n  tsheads demo --plot demo.png",
                       formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--plot", default="tsheads-demo.png", help="where to write the picture")
    p.add_argument("--no-plot", action="store_true", help="print the summary only")
    p.add_argument("--weights", help="model weights (.pt) to use instead of the shipped ones")
    p.set_defaults(func=_demo)


def build_parser() -> argparse.ArgumentParser:
    from tsheads import __version__

    parser = argparse.ArgumentParser(
        prog="tsheads", description="Tiny pretrained time-series models on a CPU.")
    parser.add_argument("--version", action="version", version=f"tsheads {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)
    _add_detect(sub)
    _add_forecast(sub)
    _add_impute(sub)
    _add_pretrain(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors in the user's input print one line and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)
            return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        print(f"tsheads {args.command}: error: {err}", file=sys.stderr)
        return 2


def _one_line_warning(command: str):
    """Warnings print once, as one line like errors do, without the Python source line."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if str(message) not in seen:
            seen.add(str(message))
            print(f"tsheads {command}: warning: {message}", file=sys.stderr)

    return show


if __name__ == "__main__":
    sys.exit(main())
