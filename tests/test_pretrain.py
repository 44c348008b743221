import numpy as np
import pytest
import torch
from conftest import TINY, generate_series

from tsheads.nn import EncoderConfig
from tsheads.pretrain.train import HeadTrainer, TrainConfig, Trainer, run
from tsheads.training import losses, make_batch

ENCODER = EncoderConfig(context_length=64, d_model=16, n_layers=2, n_registers=2, horizon=16)


def synthetic(n: int = 40, length: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    periods = rng.integers(4, 32, size=(n, 1))
    return np.sin(2 * np.pi * t / periods) * rng.uniform(0.5, 2, (n, 1)) + rng.normal(0, 0.1,
                                                                                      (n, length))


def trainer(steps: int = 30, seed: int = 0) -> Trainer:
    cfg = TrainConfig(steps=steps, batch_size=16, warmup=5, seed=seed, encoder=ENCODER,
                      lr=3e-3)
    corpus = {"short": [np.sin(np.arange(40) / 3.0)], "long": [np.cos(np.arange(300) / 7.0)]}
    return Trainer(cfg, corpus, synthetic())


def fixed_loss(tr: Trainer) -> float:
    values = synthetic()[:16, :80]
    hide = np.random.default_rng(123).random((16, 64)) < 0.3
    tr.model.eval()
    with torch.no_grad():
        parts = losses(tr.model, make_batch(values[:, :64], values[:, 64:], hide))
    return float(parts["time"] + parts["forecast"])


def test_a_tiny_run_lowers_the_loss():
    tr = trainer(steps=120)
    before = fixed_loss(tr)
    for _ in range(120):
        tr.train_step()
    assert fixed_loss(tr) < 0.7 * before


def test_training_is_deterministic_for_a_seed():
    a, b = trainer(seed=3), trainer(seed=3)
    for _ in range(5):
        assert a.train_step() == b.train_step()


def test_resume_continues_exactly(tmp_path):
    straight = trainer(steps=10)
    run(straight, tmp_path / "a.pt", progress=False)
    interrupted = trainer(steps=10)
    run(interrupted, tmp_path / "b.pt", progress=False, until=5)
    resumed = trainer(steps=10)
    resumed.load_state(torch.load(tmp_path / "b.ckpt", weights_only=True))
    run(resumed, tmp_path / "b.pt", progress=False)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_missing_values_and_padding_never_enter_the_loss():
    values = np.full((2, 64), np.nan)
    values[0, 32:] = np.arange(32.0)
    values[1] = np.arange(64.0)
    hide = np.ones((2, 64), dtype=bool)
    hide[:, ::2] = False
    future = np.full((2, 16), np.nan)
    future[1, :5] = 1.0
    batch = make_batch(values, future, hide)
    assert not batch.hidden[0, :32].any()
    assert torch.isfinite(batch.z).all() and torch.isfinite(batch.target).all()
    assert batch.future_known.sum() == 5 and batch.future_known[1, :5].all()


def test_sampler_splits_context_and_future():
    from tsheads.sampling import WindowSampler

    series = np.arange(1000.0)
    sampler = WindowSampler({"a": [series]}, np.empty((0, 64)), 64, 16, 0.0,
                            np.random.default_rng(0))
    context, future = sampler.sample(32)
    full = ~np.isnan(context[:, 0])
    assert full.any()
    assert np.all(future[full, 0] == context[full, -1] + 1)


def test_sampler_mixes_and_coarsens_real_series():
    from tsheads.pretrain.train import TrainConfig
    from tsheads.sampling import WindowSampler, coarsened

    ramp, wave = np.arange(1000.0), 5 * np.sin(np.arange(1000.0))
    mixed = WindowSampler({"a": [ramp], "b": [wave]}, np.empty((0, 64)), 64, 16, 0.0,
                          np.random.default_rng(0), mix_share=1.0)
    context, _ = mixed.sample(16)
    # a standardised ramp is a straight line; mixes with the wave bend
    bends = np.nanmax(np.abs(np.diff(context, n=2, axis=1)), axis=1)
    assert np.nanmax(np.abs(context)) < 10 and np.mean(bends > 1e-3) > 0.5
    series = np.array([1.0, 3.0, np.nan, np.nan] * 100)
    factors = {len(series) // len(coarsened(series, np.random.default_rng(seed)))
               for seed in range(20)}
    assert factors == {2, 3, 4}
    halves = coarsened(series, np.random.default_rng(next(
        s for s in range(20) if len(coarsened(series, np.random.default_rng(s))) == 200)))
    assert np.array_equal(halves[:4], [2.0, np.nan, 2.0, np.nan], equal_nan=True)
    assert np.array_equal(coarsened(ramp[:100], np.random.default_rng(1)), ramp[:100])
    with pytest.raises(ValueError, match="must add up to at most 1"):
        WindowSampler({"a": [ramp]}, np.empty((0, 64)), 64, 16, 0.0,
                      np.random.default_rng(0), mix_share=0.6, coarse_share=0.6)
    with pytest.raises(ValueError, match=r"coarse_share \(--coarse-share\) must be a fraction"):
        TrainConfig(coarse_share=float("nan"))


def test_sampler_without_augmentation_draws_as_before():
    from tsheads.sampling import WindowSampler

    series = [np.arange(700.0) * k for k in range(1, 6)]
    plain = WindowSampler({"a": series}, np.empty((0, 64)), 64, 16, 0.0,
                          np.random.default_rng(3))
    rng = np.random.default_rng(3)  # the draws of a sampler without the augmentations
    expected = []
    for _ in range(4):
        rng.random()  # synthetic or real (no synthetic series here)
        rng.choice(1, p=[1.0])  # the dataset
        row = series[rng.integers(len(series))]
        context = 64 if rng.random() >= 0.1 else int(rng.integers(4, 64))
        start = int(rng.integers(0, len(row) - context - 16 + 1))
        expected.append(row[start + context - 1])
    context, _ = plain.sample(4)
    assert list(context[:, -1]) == expected


def test_pretrain_writes_weights_json_and_card(tmp_path):
    import json

    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain

    cfg = TrainConfig(steps=4, batch_size=8, warmup=2, encoder=ENCODER, synthetic_pool=20)
    pretrain(cfg, tmp_path / "w.pt", real=False, progress=False)
    meta = json.loads((tmp_path / "w.json").read_text())
    assert meta["steps_done"] == 4 and len(meta["history"]) == 1
    card = (tmp_path / "w.md").read_text()
    assert "--synthetic-only" in card and "| 4 |" in card
    assert TinyModel.load(tmp_path / "w.pt").config == ENCODER


def head_trainer(steps: int = 20) -> HeadTrainer:
    stage_one = trainer(steps=5)
    for _ in range(5):
        stage_one.train_step()
    cfg = TrainConfig(steps=5, head_steps=steps, batch_size=16, seed=0, encoder=ENCODER)
    corpus = {"long": [np.cos(np.arange(300) / 7.0)]}
    return HeadTrainer(cfg, corpus, synthetic(), stage_one.model.state_dict())


def test_stage_two_trains_only_the_new_heads_and_lowers_their_loss():
    tr = head_trainer()
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    first = [tr.train_step() for _ in range(3)]
    for _ in range(30):
        last = tr.train_step()
    changed = {k.split(".")[1] for k, v in tr.model.state_dict().items()
               if not torch.equal(v, before[k])}
    assert changed == {"autoregressive", "fourier"}
    assert last["fourier"] < min(f["fourier"] for f in first)


def test_rollout_loss_counts_only_known_future_steps():
    from tsheads.pretrain.forecast_heads import rollout_loss

    model, p = head_trainer().model, ENCODER.patch_length
    values = synthetic()[:4, : 64 + 16].copy()
    values[:, 64 + p :] = np.nan  # only the first patch of the future is known
    batch = make_batch(values[:, :64], values[:, 64:], np.zeros((4, 64), dtype=bool))
    with torch.no_grad():
        out = model.encoder(batch.z, batch.mask)
        loss = rollout_loss(model, batch.z, batch.mask, out, batch.future, batch.future_known)
        first = model.heads["autoregressive"](out)
    expected = ((first - batch.future[:, :p]) ** 2).mean()
    torch.testing.assert_close(loss, expected)


def test_pretrain_with_head_steps_writes_all_heads(tmp_path):
    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain

    cfg = TrainConfig(steps=3, head_steps=2, batch_size=8, warmup=2, encoder=ENCODER,
                      synthetic_pool=20)
    pretrain(cfg, tmp_path / "w.pt", real=False, progress=False)
    model = TinyModel.load(tmp_path / "w.pt")
    assert set(model.heads) == {"reconstruction", "spectrum", "forecast", "autoregressive",
                                "fourier"}
    assert "--head-steps 2" in (tmp_path / "w.md").read_text()


def test_data_loading_workers_train_repeatably_from_the_start(tmp_path):
    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain

    def weights(name: str, workers: int) -> dict:
        cfg = TrainConfig(steps=3, head_steps=2, batch_size=8, warmup=2, encoder=ENCODER,
                          synthetic_pool=20, workers=workers)
        pretrain(cfg, tmp_path / f"{name}.pt", real=False, progress=False)
        return TinyModel.load(tmp_path / f"{name}.pt").state_dict()

    first, again, inline = weights("a", 2), weights("b", 2), weights("c", 0)
    assert all(torch.equal(v, again[k]) for k, v in first.items())
    assert not all(torch.equal(v, inline[k]) for k, v in first.items())  # other windows
    assert "--workers 2" in (tmp_path / "a.md").read_text()
    assert "--workers" not in (tmp_path / "c.md").read_text()


def test_bf16_autocast_trains_both_stages():
    cfg = TrainConfig(steps=2, batch_size=16, warmup=1, encoder=ENCODER, bf16=True)
    corpus = {"long": [np.cos(np.arange(300) / 7.0)]}
    one = Trainer(cfg, corpus, synthetic())
    parts = one.train_step()
    two = HeadTrainer(cfg, corpus, synthetic(), one.model.state_dict())
    parts |= two.train_step()
    assert set(parts) == {"time", "spectrum", "forecast", "autoregressive", "fourier"}
    assert all(np.isfinite(v) for v in parts.values())
    assert all(p.dtype == torch.float32 for p in two.model.parameters())


def test_the_fourier_density_keeps_float32_under_autocast():
    from tsheads.pretrain.forecast_heads import fourier_loss

    model = head_trainer(steps=1).model.eval()
    values = synthetic()[:8, :80]
    batch = make_batch(values[:, :64], values[:, 64:], np.zeros((8, 64), dtype=bool))
    with torch.no_grad():
        out = model.encoder(batch.z, batch.mask)
        plain = fourier_loss(model, out, batch.future, batch.future_known)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = fourier_loss(model, out, batch.future, batch.future_known)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, plain, rtol=2e-3, atol=0)


@pytest.mark.parametrize("device, message", [("gpu0", "torch device"),
                                             ("cuda", "no CUDA GPU")])
def test_a_device_this_machine_lacks_is_refused(device, message):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ValueError, match=message):
        TrainConfig(device=device)
    with pytest.raises(ValueError, match="workers"):
        TrainConfig(workers=-1)


def test_init_continues_from_earlier_weights_and_records_them(tmp_path):
    import json

    import pytest

    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain

    first = TrainConfig(steps=3, head_steps=2, batch_size=8, warmup=2, encoder=ENCODER,
                        synthetic_pool=20)
    pretrain(first, tmp_path / "a.pt", real=False, progress=False)
    earlier = TinyModel.load(tmp_path / "a.pt").state_dict()
    cfg = TrainConfig(steps=2, head_steps=2, batch_size=8, warmup=1, seed=1, encoder=ENCODER,
                      synthetic_pool=20, init=str(tmp_path / "a.pt"))
    corpus = {"long": [np.cos(np.arange(300) / 7.0)]}
    stage_one = Trainer(cfg, corpus, synthetic())
    for key, value in stage_one.model.state_dict().items():
        assert torch.equal(value, earlier[key]), key
    stage_two = HeadTrainer(cfg, corpus, synthetic(), stage_one.model.state_dict())
    for key, value in stage_two.model.state_dict().items():
        assert torch.equal(value, earlier[key]), key

    pretrain(cfg, tmp_path / "b.pt", real=False, progress=False)
    meta = json.loads((tmp_path / "b.json").read_text())
    assert meta["init"]["sha256"] == json.loads((tmp_path / "a.json").read_text())["sha256"]
    card = (tmp_path / "b.md").read_text()
    assert "## Continued from" in card and "--init" in card and "3 stage-one steps" in card

    heads_only = TrainConfig(steps=0, head_steps=2, batch_size=8, seed=1, encoder=ENCODER,
                             synthetic_pool=20, init=str(tmp_path / "a.pt"))
    pretrain(heads_only, tmp_path / "c.pt", real=False, progress=False)
    changed = {key.split(".")[1] for key, value in
               TinyModel.load(tmp_path / "c.pt").state_dict().items()
               if not torch.equal(value, earlier[key])}
    assert changed == {"autoregressive", "fourier"}

    other = TrainConfig(steps=2, encoder=EncoderConfig(context_length=64, d_model=8, n_layers=1,
                                                       n_registers=2, horizon=16),
                        init=str(tmp_path / "a.pt"))
    with pytest.raises(ValueError, match="same network"):
        Trainer(other, corpus, synthetic())


def test_head_forecast_trains_a_seasonal_head_on_plain_weights(tmp_path):
    from dataclasses import replace

    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain

    plain = TrainConfig(steps=3, head_steps=2, batch_size=8, warmup=2, encoder=ENCODER,
                        synthetic_pool=20)
    pretrain(plain, tmp_path / "a.pt", real=False, progress=False)
    earlier = TinyModel.load(tmp_path / "a.pt").state_dict()
    seasonal = TrainConfig(steps=0, head_steps=3, batch_size=8, seed=1, synthetic_pool=20,
                           encoder=replace(ENCODER, season_periods=(1, 8)), head_forecast=True,
                           init=str(tmp_path / "a.pt"))
    pretrain(seasonal, tmp_path / "b.pt", real=False, progress=False)
    model = TinyModel.load(tmp_path / "b.pt")
    state = model.state_dict()
    assert model.config.season_periods == (1, 8)
    changed = {key.split(".")[1] for key, value in state.items()
               if key not in earlier or not torch.equal(value, earlier[key])}
    assert changed == {"forecast", "autoregressive", "fourier"}  # the encoder stays frozen
    assert not torch.equal(state["heads.forecast.proj.weight"],
                           earlier["heads.forecast.proj.weight"])
    meta = (tmp_path / "b.md").read_text()
    assert "--season-periods 1,8" in meta and "--head-forecast" in meta


def test_direct_loss_divides_by_the_naive_scale():
    from tsheads.pretrain.forecast_heads import NAIVE_FLOOR, naive_scale

    z = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[False, False, False, True], [False] * 4])
    torch.testing.assert_close(naive_scale(z, mask), torch.tensor([1.0, NAIVE_FLOOR]))


def test_fine_tuning_moves_the_encoder_and_leaves_the_forecast_heads_frozen():
    """Fine-tuning trains with the stage-one losses; the autoregressive and Fourier heads
    take no part in them and are kept as pretrained, deliberately (see `fine_tune`)."""
    from tsheads.nn import TinyModel
    from tsheads.training import fine_tune

    torch.manual_seed(0)
    model = TinyModel(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    series = [generate_series(300, seed=s) for s in range(3)]
    tuned = fine_tune(model, series, steps=3, seed=0)
    after = tuned.state_dict()
    frozen = [k for k in before if k.startswith(("heads.autoregressive.", "heads.fourier."))]
    moved = [k for k in before if k.startswith("encoder.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in moved)


def test_stage_three_trains_only_the_imputation_head_from_the_reconstruction(tmp_path):
    from tsheads.nn import TinyModel
    from tsheads.pretrain import pretrain
    from tsheads.runtime import fill_head

    seasonal = EncoderConfig(context_length=64, d_model=16, n_layers=2, n_registers=2,
                             horizon=16, season_periods=(1, 4, 12), detect_period=True)
    cfg = TrainConfig(steps=3, head_steps=2, batch_size=8, warmup=2, encoder=seasonal,
                      synthetic_pool=20)
    pretrain(cfg, tmp_path / "a.pt", real=False, progress=False)
    earlier = TinyModel.load(tmp_path / "a.pt")
    assert fill_head(earlier) == "reconstruction"
    more = TrainConfig(steps=0, head_steps=0, imputation_steps=4, batch_size=8, seed=1,
                       encoder=seasonal, synthetic_pool=20, init=str(tmp_path / "a.pt"))
    trainer = pretrain(more, tmp_path / "b.pt", real=False, progress=False)
    model = TinyModel.load(tmp_path / "b.pt")
    assert set(model.heads) == set(earlier.heads) | {"imputation"}
    assert fill_head(model) == "imputation"
    before = earlier.state_dict()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()
               if not k.startswith("heads.imputation."))
    assert not torch.equal(model.heads["imputation"].proj.weight,
                           earlier.heads["reconstruction"].proj.weight)  # trained from it
    assert [h["step"] for h in trainer.history] == [4]
    card = (tmp_path / "b.md").read_text()
    assert "Stage three" in card and "--imputation-steps 4" in card
