"""The imputation head: the network's reconstruction weighed against seasonal shape fills.

A hidden stretch of a seasonal series looks like the same stretch one, two or three
seasons earlier or later. The shape fill of a hidden step is the linear fill across its gap
plus the mean departure of those seasonal neighbours from the same line drawn across the
same gap at their place; it keeps the local level and borrows the season's shape. A learned
gate, per patch, weighs the network's own reconstruction against the shape fill of each
period (the fixed ``season_periods`` and each window's detected period). Each period is
scored by a backtest inside the window: every fourth fully observed patch is hidden, filled
again by that period and by a straight line, and the two errors compared.
"""

from __future__ import annotations

import torch
from torch import nn

from tsheads.nn.encoder import EncoderConfig, EncoderOutput, fill_linear, gap_edges
from tsheads.nn.periods import autocorrelation, peak_period

SEASONS_EACH_SIDE = 3  # seasonal neighbours a shape fill averages before and after a step
CHECK_EVERY = 4  # every fourth fully observed patch is hidden for the backtest
GATE_WIDTH = 32  # hidden width of the gate's per-period MLP
DEPARTURE_CHUNK = 8192  # steps per block of `departures`: 4-8x larger ran 2x slower on a CPU


@torch.compiler.disable  # sizes depend on the mask: compiled, it would rebuild per batch
def departures(filled: torch.Tensor, mask: torch.Tensor, period: torch.Tensor,
               row: torch.Tensor, col: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """At the hidden steps (``row``, ``col``) (N,) of the windows ``filled`` (B, L) hidden
    where ``mask``: the mean departure (N, G) of each column of ``period``'s (B, G) seasonal
    neighbours from the line across the step's gap drawn at their place, and how many
    neighbours (N, G) were observed (0: none, and the departure is 0). Steps go in blocks
    of ``DEPARTURE_CHUNK``: every step's numbers are its own, so blocks change nothing."""
    # positions in 32 bits where they fit: the index arithmetic runs 3-4x faster
    kind = torch.int32 if filled.numel() < 2**31 else torch.int64
    multiples = torch.tensor([k * side for k in range(1, SEASONS_EACH_SIDE + 1)
                              for side in (1, -1)], device=period.device, dtype=kind)
    lags = (multiples[:, None] * period[:, None].to(kind)).flatten(1)  # (B, S), S = 2 seasons G
    edges = gap_edges(mask)  # the line across each step's gap: (B, L) each
    row, col = row.to(kind), col.to(kind)
    parts = [_departures(filled, mask, edges, lags, period.shape[1], row[i:i + DEPARTURE_CHUNK],
                         col[i:i + DEPARTURE_CHUNK])
             for i in range(0, max(len(row), 1), DEPARTURE_CHUNK)]
    return torch.cat([d for d, _ in parts]), torch.cat([u for _, u in parts])


def _departures(filled: torch.Tensor, mask: torch.Tensor, edges: tuple[torch.Tensor, ...],
                lags: torch.Tensor, groups: int, row: torch.Tensor, col: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """`departures` of one block of steps, from the mask's `gap_edges` and each window's
    seasonal lags (B, S). The values each lag before a gap's two ends are looked up once per
    run of steps of one gap, not once per step: a backtest's gaps are whole patches."""
    length = filled.shape[1]
    prev, nxt, weight = edges
    at_step = (row * length + col).long()  # flat positions of the steps
    first = prev.flatten().take(at_step).to(row.dtype)
    last = nxt.flatten().take(at_step).to(row.dtype)
    opens = torch.ones_like(row, dtype=torch.bool)  # the first step of each gap in the block
    opens[1:] = (first[1:] != first[:-1]) | (row[1:] != row[:-1])
    gap = opens.cumsum(0) - 1  # (N,) each step's gap
    lead = opens.nonzero().squeeze(1)
    ends, ends_inside = _lagged(row[lead], torch.stack([first[lead], last[lead]]), lags, length)
    before, after = filled.flatten().take(ends)[:, gap]  # (N, S) each
    has_before = (ends_inside[0] & (first[lead] >= 0)[:, None])[gap]
    has_after = (ends_inside[1] & (last[lead] < length)[:, None])[gap]
    # the lag before the step itself: (N, S)
    where, inside = _lagged(row, col[None], lags, length)
    shifted = filled.flatten().take(where[0])
    seen = inside[0] & ~mask.flatten().take(where[0])
    step = weight.flatten().take(at_step)[:, None]
    line = torch.where(has_before & has_after, before + step * (after - before),
                       torch.where(has_before, before, after))
    seen &= has_before | has_after
    split = (len(row), lags.shape[1] // groups, groups)
    used = seen.reshape(split).sum(1).to(filled.dtype)
    departure = ((shifted - line) * seen).reshape(split).sum(1) / used.clamp(min=1)
    return departure, used


def _lagged(row: torch.Tensor, places: torch.Tensor, lags: torch.Tensor, length: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat positions (K, N, S) each lag of window ``row`` (N,) before ``places`` (K, N),
    clamped into the window, and whether they lay inside it."""
    source = places[..., None] - lags[row.long()]
    inside = (source >= 0) & (source < length)
    return (row[:, None] * length + source.clamp(0, length - 1)).long(), inside


def shape_fills(filled: torch.Tensor, mask: torch.Tensor, period: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape fills (B, G, L) of the windows ``filled`` (B, L) hidden where ``mask``, one per
    column of ``period`` (B, G), and the count (B, G, L) of seasonal neighbours each used
    (0: none observed, and the fill is the straight line itself). Observed steps keep
    their values; only hidden ones are computed."""
    (batch, length), groups = filled.shape, period.shape[1]
    row, col = mask.nonzero(as_tuple=True)  # (N,) each: the hidden steps
    departure, used = departures(filled, mask, period, row, col)
    fills = filled[:, None].repeat(1, groups, 1)  # (B, G, L)
    fills[row, :, col] += departure
    count = filled.new_zeros(batch, groups, length)
    count[row, :, col] = used
    return fills, count


def backtest_scores(filled: torch.Tensor, mask: torch.Tensor, period: torch.Tensor,
                    patch_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Log ratio (B, G) of each period's shape-fill error to the straight line's, on every
    ``CHECK_EVERY``-th fully observed patch hidden and filled again, and whether the period
    could be checked at all (B, G)."""
    batch, length = filled.shape
    whole = (~mask).reshape(batch, -1, patch_length).all(-1)  # (B, P)
    every = torch.arange(whole.shape[1], device=filled.device) % CHECK_EVERY == 1
    check = (whole & every).repeat_interleave(patch_length, 1)  # (B, L)
    hidden = mask | check
    line = fill_linear(filled, hidden)
    row, col = check.nonzero(as_tuple=True)  # only the checked steps are filled again
    departure, used = departures(line, hidden, period, row, col)
    scored = (used > 0).to(filled.dtype)  # (N, G)
    miss = (line[row, col] - filled[row, col])[:, None]  # the line's error; a fill's adds
    totals = filled.new_zeros(2, batch, period.shape[1])
    totals[0].index_add_(0, row, (miss + departure) ** 2 * scored)
    totals[1].index_add_(0, row, scored)
    error = totals[0] / totals[1].clamp(min=1)
    line_error = ((line - filled) ** 2 * check).sum(-1, keepdim=True) / check.sum(
        -1, keepdim=True).clamp(min=1)
    checked = totals[1] > 0
    ratio = torch.log((error + 1e-3) / (line_error + 1e-3))
    return ratio.masked_fill(~checked, 0.0), checked


class ImputationHead(nn.Module):
    """Reconstruction for filling gaps: per patch, a learned mix of the network's own
    reconstruction (a correction to the interpolated window, as the reconstruction head)
    and seasonal shape fills; trained on the frozen encoder after the other heads."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.patch_length = config.patch_length
        self.periods = tuple(p for p in config.season_periods
                             if 2 <= p <= config.context_length // 2)
        self.register_buffer("fixed_periods", torch.tensor(self.periods, dtype=torch.long),
                             persistent=False)
        n_periods = len(self.periods) + 1  # ... and each window's own
        self.proj = nn.Linear(config.d_model, config.patch_length)
        self.patch_gate = nn.Linear(2 * config.d_model, 1 + n_periods)
        nn.init.zeros_(self.patch_gate.weight)
        nn.init.zeros_(self.patch_gate.bias)
        with torch.no_grad():  # start near the network's own reconstruction
            self.patch_gate.bias[0] = 2.0
        self.period_mlp = nn.Sequential(nn.Linear(5, GATE_WIDTH), nn.GELU(),
                                        nn.Linear(GATE_WIDTH, 1))
        self.sharpness = nn.Parameter(torch.tensor(3.0))  # a better backtest, a larger weight

    def forward(self, out: EncoderOutput) -> torch.Tensor:  # -> (B, L)
        own = out.filled + self.proj(out.time).flatten(1)  # (B, L)
        hidden = out.mask.any(1)  # (B,)
        if torch.compiler.is_compiling() or bool(hidden.all()):
            return self._gated(out, own)
        # A window with nothing hidden offers no shape fill anywhere, so the gate gives every
        # step to the network's own reconstruction: only windows with hidden steps need it.
        if not bool(hidden.any()):
            return own
        part = EncoderOutput(time=out.time[hidden], freq=out.freq[hidden],
                             registers=out.registers[hidden], filled=out.filled[hidden],
                             mask=out.mask[hidden])
        result = own.clone()
        result[hidden] = self._gated(part, own[hidden])
        return result

    def _gated(self, out: EncoderOutput, own: torch.Tensor) -> torch.Tensor:  # -> (B, L)
        """The gate's mix of ``own`` (the network's reconstruction) and the shape fills."""
        filled, mask = out.filled, out.mask
        batch, length = filled.shape
        acf, observed = autocorrelation(filled, mask)
        period = torch.cat([self.fixed_periods.expand(batch, -1), peak_period(acf, observed)], 1)
        fills, count = shape_fills(filled, mask, period)  # (B, G, L)
        ratio, checked = backtest_scores(filled, mask, period, self.patch_length)
        acf = acf.gather(1, period.clamp(max=length - 1))
        best = ratio.masked_fill(~checked, float("inf")).amin(1, keepdim=True)
        best = torch.where(torch.isfinite(best), best, torch.zeros_like(best))
        features = torch.stack([acf, (period == 1).to(acf.dtype), period.log() / 6, ratio,
                                checked.to(acf.dtype)], -1)  # (B, G, 5)
        period_logit = (self.period_mlp(features).squeeze(-1)
                        - self.sharpness * (ratio - best) * checked)  # (B, G)
        embedding = out.embedding[:, None].expand_as(out.time)
        patch_logit = self.patch_gate(torch.cat([out.time, embedding], -1))  # (B, P, 1 + G)
        logits = patch_logit.repeat_interleave(self.patch_length, 1).transpose(1, 2)
        logits = logits + nn.functional.pad(period_logit, (1, 0))[:, :, None]  # (B, 1+G, L)
        usable = torch.cat([torch.ones_like(count[:, :1], dtype=torch.bool),
                            (count > 0) & (period[:, :, None] > 1)], 1)
        weights = torch.softmax(logits.masked_fill(~usable, -1e9), 1)
        return (weights * torch.cat([own[:, None], fills], 1)).sum(1)
