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


def test_pix2pix_trains_resumes_and_predicts(tmp_path):
    run = tmp_path / "p2p"
    model = train(TINY, out=run)
    values = losses(run)
    assert values[-1] < 0.6 * values[0]
    assert (run / "samples" / "step-00000040.png").is_file()
    assert (run / "gan.csv").read_text().startswith("step,d_loss,g_adv,g_content")
    state = load_file(str(next((run / "checkpoints").glob("step-*")) / "state.safetensors"))
    assert any(k.startswith("disc.net.") for k in state)
    assert any(k.startswith("disc.opt.") for k in state)
    assert not any(k.startswith("disc") for k in load_file(str(model / "weights.safetensors")))
    # a second run with the same seed gives identical generator weights
    half = tmp_path / "again"
    train({**TINY, "train": {**TINY["train"], "steps": 40}}, out=half)
    w_full = load_file(str(model / "weights.safetensors"))
    w_half = load_file(str(half / "model" / "weights.safetensors"))
    assert all(torch.equal(w_full[k], w_half[k]) for k in w_full)   # fixed-seed runs repeat
    from geosr.phantoms import phantom
    from geosr.degrade import degrade
    from geosr.io import save
    lr = degrade(phantom("dentin", dims=2, size_um=6.4, spacing_um=0.1, seed=7).image, scale=4,
                 fwhm_um=0.4, seed=0)
    save(lr, tmp_path / "lr.tif")
    cli_predict(model, tmp_path / "lr.tif", tmp_path / "sr.tif")
    from geosr.io import load
    sr = load(tmp_path / "sr.tif")
    assert sr.shape == (64, 64) and np.allclose(sr.spacing, (0.1, 0.1))
