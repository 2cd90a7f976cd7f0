"""pix2pix: a short run lowers the content loss, the discriminator is checkpointed and resumes
bit-identically, sample grids are written, and the model folder runs in `geosr predict`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from geosr.models.discriminator import PatchDiscriminator, layers_for_field, patch_receptive_field
from geosr.train import train
from geosr.train.adversarial import ImagePool, gan_loss

TINY = {
    "seed": 3, "scale": 4, "algorithm": "pix2pix",
    "data": {"source": "phantom", "kind": "dentin", "size_um": 12.8, "spacing_um": 0.1,
             "train_seeds": [0, 1], "val_seeds": [100], "degradation": {"fwhm_um": [0.3, 0.5]}},
    "model": {"name": "unet_pix2pix", "arguments": {"ngf": 8, "depth": 3}},
    "loss": "l1", "patch": {"size": 32},
    "adversarial": {"ndf": 8, "receptive_field": 16, "pool_size": 4, "gradient_penalty": 0.1,
                    "spectral_norm": True, "sample_every": 20},
    "train": {"steps": 40, "batch_size": 4, "lr": 2e-3, "checkpoint_every": 20, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 20, "patience": None},
    "logging": {"every": 5, "progress": False},
}


def losses(run: Path) -> list[float]:
    with open(run / "log.csv") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh) if r["loss"]]


def cli_predict(model: Path, image_path: Path, out: Path) -> None:
    from typer.testing import CliRunner

    from geosr.cli.main import app

    result = CliRunner().invoke(app, ["predict", str(image_path), "--model", str(model),
                                      "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_patchgan_receptive_field_and_shapes():
    assert [patch_receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    assert layers_for_field(70) == 3 and layers_for_field(30) == 2
    d3 = PatchDiscriminator(dims=3, in_channels=2, ndf=4, layers=1, spectral_norm=True)
    assert d3(torch.zeros(1, 2, 16, 16, 16)).shape == (1, 1, 6, 6, 6)


def test_gan_losses_and_pool():
    ones = torch.ones(2, 1, 3, 3)
    assert float(gan_loss("lsgan", ones, True, for_d=True)) == 0.0
    assert float(gan_loss("lsgan", ones, False, for_d=True)) == 1.0
    assert float(gan_loss("hinge", ones, True, for_d=True)) == 0.0
    assert float(gan_loss("hinge", ones, False, for_d=True)) == 2.0
    assert float(gan_loss("hinge", ones, True, for_d=False)) == -1.0
    pool = ImagePool(2, 0)
    first = pool.query(torch.zeros(2, 1, 2, 2))
    assert torch.equal(first, torch.zeros(2, 1, 2, 2)) and len(pool.images) == 2
    mixed = pool.query(torch.ones(64, 1, 2, 2))     # about half come from the history
    from_pool = int((mixed.flatten(1).mean(1) == 0).sum())
    assert 1 <= from_pool <= 2                        # only 2 zeros were ever stored


class _Stop(Exception):
    """Raised right after the step-20 checkpoint: a run stopped mid-way."""


def test_pix2pix_trains_resumes_and_predicts(tmp_path, monkeypatch):
    import geosr.train.loop as loop

    run = tmp_path / "p2p"
    model = train(TINY, out=run)
    values = losses(run)
    assert values[-1] < 0.6 * values[0]
    assert (run / "samples" / "step-00000040.png").is_file()
    assert (run / "gan.csv").read_text().startswith("step,d_loss,g_adv,g_content")
    state = load_file(str(run / "checkpoints" / "step-00000040" / "state.safetensors"))
    assert any(k.startswith("disc.net.") for k in state)
    assert any(k.startswith("disc.opt.") for k in state)
    assert any(k.startswith("disc.pool.") for k in state)
    assert not any(k.startswith("disc") for k in load_file(str(model / "weights.safetensors")))
    # stop after the step-20 checkpoint, resume: bit-identical generator AND discriminator
    save = loop.save_checkpoint

    def save_then_stop(folder, step, *args, **kwargs):
        path = save(folder, step, *args, **kwargs)
        if step == 20:
            raise _Stop
        return path

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)
    stopped = tmp_path / "stopped"
    with pytest.raises(_Stop):
        train(TINY, out=stopped)
    assert not (stopped / "model").exists()
    monkeypatch.setattr(loop, "save_checkpoint", save)
    train(TINY, out=stopped, resume=True)
    w_full = load_file(str(model / "weights.safetensors"))
    w_resumed = load_file(str(stopped / "model" / "weights.safetensors"))
    assert w_full.keys() == w_resumed.keys()
    assert all(torch.equal(w_full[k], w_resumed[k]) for k in w_full)
    resumed = load_file(str(stopped / "checkpoints" / "step-00000040" / "state.safetensors"))
    disc = [k for k in state if k.startswith("disc.")]
    assert disc and all(torch.equal(state[k], resumed[k]) for k in disc)
    from geosr.phantoms import phantom
    from geosr.degrade import degrade
    from geosr.io import save as save_image
    lr = degrade(phantom("dentin", dims=2, size_um=6.4, spacing_um=0.1, seed=7).image, scale=4,
                 fwhm_um=0.4, seed=0)
    save_image(lr, tmp_path / "lr.tif")
    cli_predict(model, tmp_path / "lr.tif", tmp_path / "sr.tif")
    from geosr.io import load
    sr = load(tmp_path / "sr.tif")
    assert sr.shape == (64, 64) and np.allclose(sr.spacing, (0.1, 0.1))


@pytest.mark.parametrize("metric,pick", [("cldice", max), ("betti_error", min)])
def test_checkpoint_selection_by_a_network_metric(tmp_path, metric, pick):
    """The kept weights are those of the best validation step by the network metric: the
    step recorded in model.json is the history's arg-best, and the saved model re-scores
    exactly that value on the validation image."""
    import json

    from geosr.models import load_model
    from geosr.train.config import parse_config
    from geosr.train.loop import Trainer
    from geosr.train.validate import evaluate

    cfg = {**TINY, "algorithm": "supervised", "model": {"name": "care", "arguments": {
        "features": 8, "depth": 1, "upsample": "cubic"}},
        "train": {**TINY["train"], "steps": 30, "lr": 3e-3},
        "validation": {"every": 5, "patience": None, "metric": metric, "keep": "best"}}
    model = train(cfg, out=tmp_path / "run")
    validation = json.loads((model / "model.json").read_text())["validation"]
    history = validation["history"]
    assert len(history) == 7 and all(metric in h for h in history)
    best = pick(history, key=lambda h: h[metric])      # ties: the earliest step
    # measured: best by cldice at step 5, by betti_error at step 0, by PSNR at step 30
    assert best["step"] != max(history, key=lambda h: h["psnr"])["step"]
    assert validation["kept"] == "best" and validation["metric"] == metric
    assert validation["best_step"] == best["step"] == validation["best"]["step"]
    assert validation["best"][metric] == best[metric]
    trainer = Trainer(parse_config({**cfg, "out": str(tmp_path / "scratch")}))
    trainer._build()
    loaded = load_model(model)
    rescored = evaluate(loaded.module, trainer.val_images, trainer.loss_fn,
                        torch.device("cpu"), metric=metric)
    assert rescored[metric] == pytest.approx(best[metric], abs=1e-9)
    assert rescored["psnr"] == pytest.approx(best["psnr"], abs=1e-6)
