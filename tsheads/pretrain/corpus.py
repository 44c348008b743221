"""Real pretraining series: the shared corpus folder and the series bundled with statsmodels.

Every loader returns ``dict[str, list[np.ndarray]]``: a dataset name mapped to its series, each a
1-D float32 array in time order with NaN where a value is missing. A wide file gives one series
per numeric channel; a long file gives one series per id. Calendar, index and text columns are
dropped, leading and trailing NaN are trimmed, and series with fewer than ``MIN_OBSERVED``
observed values or a single distinct value are left out.

Zero-shot rule: no evaluation set may reach pretraining. ``check_not_evaluation`` refuses any path
whose file or folder name matches ``EVALUATION_NAMES`` or that lies under a ``forecast/`` or
``anomaly/`` folder; ``load_real_corpus`` runs it on every file before reading any of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

MIN_OBSERVED = 16

# Substrings (matched case-insensitively against a file's name and its folder's name) of the
# evaluation sets: ETT, exchange rate, ILI, Jena weather, traffic, M4, NAB (incl. its nyc_taxi),
# SKAB, the UCR anomaly archive, SMD/SMAP/MSL, Yahoo S5 and TSB-AD.
EVALUATION_NAMES = (
    "ETTh",
    "ETTm",
    "exchange_rate",
    "national_illness",
    "ILINet",
    "weather.csv",
    "traffic.csv",
    "m4",
    "nab",
    "nyc_taxi",
    "skab",
    "UCR",
    "SMD",
    "SMAP",
    "MSL",
    "yahoo",
    "TSB-AD",
)
EVALUATION_FOLDERS = ("forecast", "anomaly")

# Columns that count time or label categories rather than measure something (compared lowercase).
CALENDAR_COLUMNS = frozenset(
    "no index instant year yr quarter month mnth week day hour hr minute time season holiday "
    "weekday workingday weathersit".split()
)

# Files that need more than "read a wide CSV": keyword arguments for the named reader.
# time: time column used to sort, deduplicate or reindex; time_format: its strptime format;
# freq: reindex to this regular grid (absent steps become NaN); missing: a number meaning NaN, or a
# {column: number} dict.
_WIDE_OPTIONS = {
    "air_quality/AirQuality.csv": {"missing": -200.0},
    "classic_small/us_gasoline.csv": {"time": "Week", "time_format": "%m/%d/%Y"},
    "road_traffic/Metro_Interstate_Traffic_Volume.csv": {
        "time": "date_time",
        "dedupe": True,
        "missing": {"temp": 0.0},  # 0 K: ten sensor dropouts among 240-310 K readings
    },
    "web_traffic/example_wp_log_R.csv": {"time": "ds", "freq": "D"},
    "web_traffic/example_wp_log_peyton_manning.csv": {"time": "ds", "freq": "D"},
}
_LONG_OPTIONS = {
    "macro_fred_eia/eia_weekly.csv": {"ids": ("series_id",), "time": "datetime"},
    "macro_fred_eia/fred_monthly.csv": {"ids": ("series_id",), "time": "date"},
    "macro_fred_eia/fred_yearly.csv": {"ids": ("series_id",), "time": "date"},
    "pedestrians/example_pedestrians_multivariate_daily.csv": {
        "ids": ("sensor_id",),
        "time": "ds",
        "value": "y",
        "freq": "D",
    },
    "prophet_misc/example_livestock.csv": {
        "ids": ("animal", "state"),
        "time": "month",
        "value": "count",
        "time_format": "%Y %b",
    },
    "prophet_misc/example_online_retail_multivariate.csv": {
        "ids": ("item",),
        "time": "ds",
        "value": "y",
    },
    "prophet_misc/example_power_multivariate.csv": {"ids": ("meter",), "time": "ds", "value": "y"},
}


def default_root() -> Path:
    """The corpus folder: ``$TSHEADS_PRETRAIN_DATA`` or ``shared/data/pretrain`` beside the repo."""
    env = os.environ.get("TSHEADS_PRETRAIN_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "pretrain"


def check_not_evaluation(paths) -> None:
    """Raise ValueError if any path looks like an evaluation set.

    Examples
    --------
    >>> check_not_evaluation(["data/pretrain/m3/m3_yearly_dataset.tsf"])
    >>> check_not_evaluation(["shared/data/forecast/ETTh1.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: refusing to pretrain on 'shared/data/forecast/ETTh1.csv': ...
    """
    for path in map(Path, paths):
        names = f"{path.parent.name}/{path.name}".lower()
        hits = [name for name in EVALUATION_NAMES if name.lower() in names]
        hits += [f"{part}/" for part in path.parts[:-1] if part in EVALUATION_FOLDERS]
        if hits:
            raise ValueError(
                f"refusing to pretrain on '{path}': it matches evaluation data {hits}. "
                "Pretraining must stay zero-shot; move the file out of the corpus folder."
            )


def load_real_corpus(root=None, datasets=None) -> dict[str, list[np.ndarray]]:
    """Load the shared pretraining corpus, one key per dataset folder.

    Parameters
    ----------
    root : path, optional
        The corpus folder; defaults to ``default_root()``.
    datasets : sequence of str, optional
        Folder names to load; all of them when omitted.
    """
    root = (Path(root) if root is not None else default_root()).resolve()
    if not root.is_dir():
        raise FileNotFoundError(
            f"pretraining corpus folder '{root}' does not exist; pass root= or set "
            "TSHEADS_PRETRAIN_DATA to the folder holding m3/, m1/, ... ."
        )
    files = _corpus_files(root, datasets)
    check_not_evaluation([root / rel for rels in files.values() for rel in rels])
    return {name: [s for rel in rels for s in _read(root, rel)] for name, rels in files.items()}


def _corpus_files(root: Path, datasets) -> dict[str, list[str]]:
    """Dataset folder -> its .tsf and .csv files, relative to root and sorted."""
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    wanted = found if datasets is None else list(datasets)
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise ValueError(f"unknown datasets {unknown} in '{root}'; choose from {found}.")
    return {
        name: sorted(
            p.relative_to(root).as_posix()
            for p in (root / name).iterdir()
            if p.suffix in (".tsf", ".csv")
        )
        for name in wanted
    }


def _read(root: Path, rel: str) -> list[np.ndarray]:
    path = root / rel
    if path.suffix == ".tsf":
        raw = read_tsf(path)
    elif rel in _LONG_OPTIONS:
        raw = read_long_csv(path, **_LONG_OPTIONS[rel])
    else:
        raw = read_wide_csv(path, **_WIDE_OPTIONS.get(rel, {}))
    return [s for s in map(_clean, raw) if s is not None]


def read_tsf(path) -> list[np.ndarray]:
    """Series of a Monash ``.tsf`` file (latin-1 comments, CRLF, ``?`` for missing values)."""
    n_attributes, in_data, series = 0, False, []
    with open(path, encoding="latin-1") as file:
        for line in file:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if in_data:
                values = line.split(":", n_attributes)[-1].split(",")
                series.append(np.array([v if v != "?" else "nan" for v in values], np.float64))
            elif line.lower().startswith("@attribute"):
                n_attributes += 1
            elif line.lower() == "@data":
                in_data = True
    return series


def read_wide_csv(
    path,
    *,
    time=None,
    time_format="ISO8601",
    dedupe=False,
    freq=None,
    missing=None,
) -> list[np.ndarray]:
    """One series per numeric, non-calendar column of a wide CSV.

    With ``time``, rows are sorted by that column (stable), duplicated timestamps keep their first
    row when ``dedupe``, and ``freq`` reindexes to a regular grid.
    """
    frame = pd.read_csv(path, skipinitialspace=True)  # a lone " " cell means missing
    if time is not None:
        frame[time] = pd.to_datetime(frame[time], format=time_format)
        frame = frame.sort_values(time, kind="stable")
        if dedupe:
            frame = frame.drop_duplicates(subset=time, keep="first")
        if freq is not None:
            frame = frame.set_index(time).asfreq(freq)
    channels = _numeric_channels(frame)
    if missing is not None:
        marker = pd.Series(missing, index=channels.columns)  # scalar or per-column markers
        channels = channels.mask(channels == marker)
    return [channels[c].to_numpy(np.float64) for c in channels.columns]


def read_long_csv(
    path, *, ids, time, value="value", time_format="ISO8601", freq=None
) -> list[np.ndarray]:
    """One series per id of a long CSV, sorted by time and optionally reindexed to ``freq``."""
    frame = pd.read_csv(path, usecols=[*ids, time, value])
    frame[time] = pd.to_datetime(frame[time], format=time_format)
    frame = frame.sort_values([*ids, time], kind="stable")
    series = []
    for _, group in frame.groupby(list(ids), sort=False):
        values = group.set_index(time)[value]
        if freq is not None:
            values = values.asfreq(freq)
        series.append(values.to_numpy(np.float64))
    return series


def _numeric_channels(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns that are not calendar or index columns (booleans and text are dropped)."""
    numeric = frame.select_dtypes("number")
    keep = [c for c in numeric.columns if str(c).strip().lower() not in CALENDAR_COLUMNS]
    return numeric[keep]


def _clean(values) -> np.ndarray | None:
    """float32 series with inf as NaN and outer NaN trimmed; None if too short or constant."""
    series = np.asarray(values, np.float64)
    series = np.where(np.isfinite(series), series, np.nan).astype(np.float32)
    observed = np.flatnonzero(~np.isnan(series))
    if observed.size < MIN_OBSERVED:
        return None
    series = series[observed[0] : observed[-1] + 1]
    if np.nanmin(series) == np.nanmax(series):
        return None
    return series


def load_statsmodels_series() -> dict[str, list[np.ndarray]]:
    """Real time series bundled with ``statsmodels.datasets``, under the single key "statsmodels".

    None of these is an evaluation set. Cross-sectional datasets (anes96, fair, star98, ...) are
    left out; the kept ones are yearly, quarterly, monthly or weekly records. The yearly sunspot
    numbers overlap in content with the corpus' daily and monthly sunspot files. ``co2`` is
    kept out: it is the series of ``tsheads demo``, which should show unseen data.
    """
    from statsmodels import datasets
    from statsmodels.datasets import elec_equip

    wide = [
        datasets.sunspots,  # yearly sunspot activity, 1700-2008
        datasets.nile,  # yearly Nile flow at Aswan, 1871-1970
        datasets.macrodata,  # quarterly US macro, 1959-2009
        datasets.danish_data,  # quarterly Danish money demand, 1974-1987
        datasets.interest_inflation,  # quarterly German interest and inflation, 1972-1998
        datasets.longley,  # yearly US employment, 1947-1962
        datasets.copper,  # yearly world copper market, 1951-1975
        elec_equip,  # monthly EU electrical equipment index, 1995-2016
    ]
    raw = []
    for module in wide:
        channels = _numeric_channels(module.load_pandas().data)
        raw += [channels[c].to_numpy(np.float64) for c in channels.columns]
    raw += _elnino_series(datasets.elnino.load_pandas().data)
    raw += _fertility_series(datasets.fertility.load_pandas().data)
    raw += _grunfeld_series(datasets.grunfeld.load_pandas().data)
    return {"statsmodels": [s for s in map(_clean, raw) if s is not None]}


def _elnino_series(frame: pd.DataFrame) -> list[np.ndarray]:
    """One monthly series: the year rows of month columns, read row by row."""
    frame = frame.sort_values("YEAR")
    return [frame.drop(columns="YEAR").to_numpy(np.float64).ravel()]


def _fertility_series(frame: pd.DataFrame) -> list[np.ndarray]:
    """One yearly series per country or region (columns '1960', '1961', ...)."""
    years = sorted(c for c in frame.columns if str(c).isdigit())
    return list(frame[years].to_numpy(np.float64))


def _grunfeld_series(frame: pd.DataFrame) -> list[np.ndarray]:
    """Yearly invest, value and capital per firm, 1935-1954."""
    frame = frame.sort_values(["firm", "year"], kind="stable")
    series = []
    for _, group in frame.groupby("firm", sort=False):
        series += [group[c].to_numpy(np.float64) for c in ("invest", "value", "capital")]
    return series


def corpus_summary(corpus: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """Per-dataset series count, observed points and series length range.

    Examples
    --------
    >>> corpus_summary({"toy": [np.arange(20, dtype=np.float32), np.array([1.0, np.nan, 2.0])]})
         series  points  min_length  max_length
    toy       2      22           3          20
    """
    rows = {
        name: {
            "series": len(series),
            "points": int(sum(np.count_nonzero(~np.isnan(s)) for s in series)),
            "min_length": min((len(s) for s in series), default=0),
            "max_length": max((len(s) for s in series), default=0),
        }
        for name, series in corpus.items()
    }
    columns = ["series", "points", "min_length", "max_length"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)
