"""The model card: rendered from the metadata saved beside the weights."""

from __future__ import annotations

import json
from pathlib import Path


def write_model_card(weights: str | Path, notes: str = "") -> Path:
    """Render ``weights``' .json metadata into a Markdown card at ``weights`` with .md."""
    weights = Path(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    card = weights.with_suffix(".md")
    card.write_text(render(meta, notes))
    return card


def render(meta: dict, notes: str = "") -> str:
    """A Markdown model card: size, data, steps, time, loss curve and the command to redo it."""
    train = meta["train"]
    rows = "\n".join(f"| {name} | {n:,} | {points:,} |"
                     for name, (n, points) in meta["corpus"].items())
    return MODEL_CARD.format(
        params=meta["parameters"], config=json.dumps(meta["config"]),
        heads=", ".join(meta["heads"]),
        synthetic=train["synthetic_share"], pool=train["synthetic_pool"],
        augment=_augment(train),
        rows=rows or "| (none) | | |", curve=_curve(meta["history"]), command=meta["command"],
        sha=meta["sha256"], spec_w=train["spectrum_weight"], fc_w=train["forecast_weight"],
        notes=f"\n## Notes\n\n{notes}\n" if notes else "",
        stage_two=_stage_two(meta) + _stage_three(meta),
        season=_season(meta["config"]), training=_training(meta),
        parent=_parent_section(meta.get("init")),
        first="\nFirst make the weights under \"Continued from\" with their command, then:\n"
        if meta.get("init") else "",
    )


def _augment(train: dict) -> str:
    """The card's words on the sampler's augmentations of the real windows, if any."""
    mix, coarse = train.get("mix_share", 0.0), train.get("coarse_share", 0.0)
    parts = ([f"{mix:.0%} of those windows convex mixes of 2-3 standardised series (TSMixup)"]
             if mix else []) + ([f"{coarse:.0%} from copies down-sampled by averaging 2-4 "
                                 "steps"] if coarse else [])
    return f"\n  with {' and '.join(parts)}," if parts else ""


def _curve(history: list[dict]) -> str:
    """Rows of a stage-one loss table."""
    if not history:
        return "| 0 | 0 | (no stage-one steps in this run) | | |"
    return "\n".join(
        f"| {h['step']} | {h['minutes']} | {h['time']:.4f} | {h['spectrum']:.4f} | "
        f"{h.get('forecast', float('nan')):.4f} |" for h in history)


def _parent_section(parent: dict | None) -> str:
    """The card's section on the weights a continued run started from, back to the first run."""
    if not parent:
        return ""
    heads = (f" + {parent['head_steps_done']:,} stage-two steps"
             if parent.get("head_steps_done") else "")
    return PARENT.format(
        path=parent["path"], sha=parent["sha256"], steps=parent["steps_done"], heads=heads,
        minutes=(parent["minutes"] + parent.get("head_minutes", 0.0)
                 + parent.get("imputation_minutes", 0.0)),
        curve=_curve(parent["history"]), command=parent["command"],
    ) + _parent_section(parent.get("init"))


def _continued(parent: dict | None) -> str:
    """For a continued run: how many stage-one steps came before, over the whole chain."""
    before = 0
    while parent:
        before, parent = before + parent["steps_done"], parent.get("init")
    return f" (after {before:,} earlier steps, see \"Continued from\")" if before else ""


def _stage_two(meta: dict) -> str:
    """The card's section on the heads trained on the frozen encoder, when they were."""
    if not meta.get("head_steps_done"):
        return ""
    direct = meta["train"].get("head_forecast", False)
    curve = "\n".join(f"| {h['step']} | {h['minutes']} | {h['autoregressive']:.4f} | "
                      f"{h['fourier']:.4f} |" + (f" {h['forecast']:.4f} |" if direct else "")
                      for h in meta["head_history"])
    return STAGE_TWO.format(
        steps=meta["head_steps_done"], minutes=meta["head_minutes"],
        batch=meta["train"]["batch_size"], lr=meta["train"]["head_lr"], curve=curve,
        direct=DIRECT_IN_STAGE_TWO if direct else "",
        direct_column=" direct: mean abs error / naive scale |" if direct else "",
        direct_rule="---:|" if direct else "")


def _stage_three(meta: dict) -> str:
    """The card's section on the imputation head, when it was trained."""
    if not meta.get("imputation_steps_done"):
        return ""
    curve = "\n".join(f"| {h['step']} | {h['minutes']} | {h['imputation']:.4f} | "
                      f"{h['reconstruction']:.4f} |" for h in meta["imputation_history"])
    return STAGE_THREE.format(
        steps=meta["imputation_steps_done"], minutes=meta["imputation_minutes"],
        batch=meta["train"]["batch_size"], lr=meta["train"]["head_lr"], curve=curve)


def _training(meta: dict) -> str:
    """The card's line on stage one: its steps, optimiser and compute, or that it was skipped."""
    train = meta["train"]
    if not meta["steps_done"]:
        return ("no stage-one steps: the encoder and its reconstruction and spectrum heads are "
                "the earlier weights' (see \"Continued from\"), unchanged.")
    return (f"{meta['steps_done']:,} steps{_continued(meta.get('init'))} of "
            f"{train['batch_size']} windows of 512 steps,\n  AdamW (lr {train['lr']:g}, weight "
            f"decay 0.01, {train.get('warmup', 300)} warm-up steps, cosine to a tenth), gradient"
            f"\n  clipping at 1; {meta['minutes']:.1f} minutes of compute on "
            f"{meta.get('hardware', str(meta['threads']) + ' CPU threads')}.")


def _season(config: dict) -> str:
    """The card's sentence on the direct head's seasonal candidates, when it has them."""
    periods = config.get("season_periods")
    if not periods:
        return ""
    own = " and each window's own period (from its autocorrelation)" if config.get(
        "detect_period") else ""
    return SEASON.format(periods=", ".join(map(str, periods)), own=own)


SEASON = """- **Direct forecast head:** a learned gate weighs the network's own forecast (a linear
  map of every token) against seasonal repeats of the context, for periods {periods}{own},
  each by three rules: the last season, the mean of the last three, and the last season plus
  the change in level between the last two; each repeat is scored by backtests from four
  origins, 48 steps apart, at the end of the context.
"""

DIRECT_IN_STAGE_TWO = """The direct forecast head (with its gate) is trained here too,
from the earlier weights' linear map, on its absolute error divided by the window's mean
absolute step-to-step change (the scale of MASE, floored at 0.05).
"""

STAGE_TWO = """
## Stage two: heads on the frozen encoder
{direct}
{steps:,} steps of {batch} clean windows (nothing hidden) with the encoder and the stage-one
heads frozen, so their outputs are exactly those of stage one; AdamW at lr {lr:g} (100 warm-up
steps, cosine to a tenth); {minutes:.1f} minutes. The autoregressive head predicts the next
8-step patch as a change from the window's last value; each window is rolled forward 4 patches
on the head's own predictions (re-normalised each time, as at inference) and the loss is the
MSE over all 4. The Fourier head gives, per step of the next 96, a 32-term Fourier density of
x = tanh(r / 2) for the residual r of the value around the direct forecast; loss: cross-entropy
over 128 bins of [-1, 1] plus 1e-4 x the smoothness penalty sum k^2 |c_k|^2.

| step | minutes | autoregressive MSE (4 patches) | Fourier NLL (bins) |{direct_column}
|---:|---:|---:|---:|{direct_rule}
{curve}
"""

STAGE_THREE = """
## Stage three: the imputation head on the frozen encoder

{steps:,} steps of {batch} windows, values hidden in every one (the stage-one masks), with
everything else frozen; AdamW at lr {lr:g} (100 warm-up steps, cosine to a tenth);
{minutes:.1f} minutes. The head weighs, per patch, its own reconstruction (started from the
reconstruction head's) against seasonal shape fills: the straight line across a gap plus the
mean departure of the values one to three seasons before and after from the same line drawn
at their place, for each fixed period of the direct head up to half the context and each
window's own period; each period is scored by refilling every fourth fully observed patch.
Loss: MSE on the hidden points; the reconstruction head's on the same windows beside it.

| step | minutes | imputation MSE (hidden points) | reconstruction head MSE |
|---:|---:|---:|---:|
{curve}
"""


PARENT = """
## Continued from

`{path}`, sha256 `{sha}`:
{steps:,} stage-one steps{heads}, {minutes:.1f} minutes. Stage one here started from all of
its weights with a fresh optimiser and schedule, and stage two from its autoregressive and
Fourier heads. It was made by:

```
{command}
```

Its stage-one loss curve:

| step | minutes | time MSE (hidden points) | spectrum MSE | forecast MSE |
|---:|---:|---:|---:|---:|
{curve}
"""


MODEL_CARD = """# tsheads tiny model card

- **Parameters:** {params:,}; heads: {heads}.
- **Config:** `{config}`
- **Weights:** fp32 state_dict, loaded with `weights_only=True` after checking its sha256:
  `{sha}`.
- **Objective:** masked reconstruction in time (MSE on hidden points) + {spec_w:g} x the MSE of
  the full window's orthonormal rFFT from the spectrum head + {fc_w:g} x the MSE of the next 96
  steps from the direct forecast head, all in the window's normalised scale (clipped at +-20).
  Masks per window: scattered points, whole patches, hybrid (half each) or one long gap plus
  points, at ratios U(0.05, 0.6); 30 % of windows are shown whole.
{season}- **Training:** {training}
- **Data:** {synthetic:.0%} of windows from a pool of {pool:,} synthetic series (KernelSynth-style
  Gaussian-process kernels plus trends, seasonality, AR noise, level shifts, spikes, gaps); the rest
  drawn per dataset (weight proportional to the square root of its points), then per
  series,{augment} from:

| dataset | series | observed points |
|---|---:|---:|
{rows}

Datasets are the folders of `shared/data/pretrain/` (see its README for sources and licences);
`statsmodels` is the real series shipped in `statsmodels.datasets` except `co2`, which is kept
for `tsheads demo`.

- **Kept out (zero-shot):** nothing from `shared/data/forecast/` or `shared/data/anomaly/`, and no
  copy of ETT, M4, NAB, SKAB, UCR, exchange-rate, illness or weather data; `corpus.py` refuses such
  paths. The `pretrain/` corpus itself was curated to exclude them (see its README).

## Loss curve (mean over each logging interval)

| step | minutes | time MSE (hidden points) | spectrum MSE | forecast MSE |
|---:|---:|---:|---:|---:|
{curve}

{stage_two}{parent}
## Reproduce
{first}
```
{command}
```
Deterministic for a seed on the same machine and thread count; an interrupted run resumes from
the `.ckpt` file beside the output.
{notes}"""
