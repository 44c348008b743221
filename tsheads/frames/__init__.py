"""Frames in and out: user input <-> `Panel`, with validation.

Every estimator sees its input as a *panel*: a list of univariate float64 series with their own
time index and one shared frequency. `to_panel` accepts the layouts users have (a long frame with
``unique_id``/``ds``/``y`` columns, a wide frame with one column per series, a numpy array or a
``pd.Series``), checks it and records what is needed to rebuild the output in the same layout;
`from_panel` and `from_panel_columns` do that rebuild. Only this package touches pandas:
`frequency` infers the time step and its grid, `reading` builds panels, `writing` rebuilds
frames from them, and `panel` holds the `Panel` itself.
"""

from tsheads.frames.frequency import infer_freq
from tsheads.frames.panel import (
    ID_COL,
    TARGET_COL,
    TIME_COL,
    Panel,
    aligned_groups,
    describe_inserted,
    given_rows,
    given_steps,
    inserted_timestamps,
)
from tsheads.frames.reading import to_panel
from tsheads.frames.writing import (
    concat,
    flat_columns,
    from_panel,
    from_panel_columns,
    future_index,
    one_per_step,
    series_table,
)

__all__ = [
    "ID_COL",
    "TARGET_COL",
    "TIME_COL",
    "Panel",
    "aligned_groups",
    "concat",
    "flat_columns",
    "one_per_step",
    "series_table",
    "describe_inserted",
    "from_panel",
    "from_panel_columns",
    "future_index",
    "given_rows",
    "given_steps",
    "infer_freq",
    "inserted_timestamps",
    "to_panel",
]
