"""Training: config validation and errors, the keyword front door, the CLI, determinism,
checkpoints without pickle, kill-and-resume bit-identity, and a real improvement over bicubic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from geosr.core.errors import ConfigError, DependencyError, InputError
from geosr.train import load_config, parse_config, read_log, train
from geosr.train import config_from_any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "train_dentin_x4.yaml"

#: A tiny, fast run: 128 x 128 dentin phantoms at 0.1 um, x4, 16 x 16 LR patches, FSRCNN with
#: d=8, one thread (bit-identical weights need a fixed thread count).
TINY = {
    "seed": 3, "scale": 4,
    "data": {"source": "phantom", "kind": "dentin", "size_um": 12.8, "spacing_um": 0.1,
             "train_seeds": [0, 1], "val_seeds": [100],
             "degradation": {"fwhm_um": [0.3, 0.5], "photons": {"low": 100, "high": 1000,
                                                                "log": True},
                             "variants": 2}},
    "model": {"name": "fsrcnn", "arguments": {"d": 8, "s": 4, "m": 1}},
    "loss": [{"name": "l1", "weight": 1.0}, {"name": "ssim", "weight": 0.1}],
    "patch": {"size": 64},
    "train": {"steps": 40, "batch_size": 4, "lr": 2e-3, "checkpoint_every": 10, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 10, "patience": None},
    "logging": {"every": 5, "progress": False},
}


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(model_dir) / "weights.safetensors"))


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        assert torch.equal(a[key], b[key]), key


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ config
def test_config_defaults_and_example_file():
    cfg = parse_config({"data": {"source": "phantom"}})
    assert (cfg.scale, cfg.model.name, cfg.loss, cfg.train.schedule) == (4, "fsrcnn", "l1",
                                                                         "cosine")
    example = load_config(EXAMPLE)
    assert example.data.source == "phantom" and example.data.kind == "dentin"
    assert example.scale == 4 and example.model.name == "fsrcnn"


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    cfg = load_config(path)
    assert cfg.data.source in ("phantom", "degrade", "folders", "unpaired", "unpaired_phantom",
                               "single", "anisotropic")


@pytest.mark.parametrize("patch,expected", [
    ({"train": {"lr": -1}}, "train.lr: Input should be greater than 0 (got -1)"),
    ({"train": {"schedule": "linear"}},
     "train.schedule: Input should be 'cosine', 'step' or 'constant' (got 'linear')"),
    ({"train": {"lrate": 0.1}}, "train.lrate: unknown field; allowed: steps, batch_size, lr"),
    ({"validaton": {}}, "validaton: unknown field; allowed: version, algorithm, seed, scale"),
    ({"patch": {"size": 30}}, "patch.size: 30 is not divisible by scale 4; use 28 or 32"),
    ({"model": {"name": "srgan"}}, "model.name: unknown model 'srgan'; allowed: care, edsr"),
    ({"loss": "perceptual"}, "loss: unknown loss 'perceptual'; allowed: charbonnier, cldice"),
    ({"loss": [{"name": "l1", "wieght": 1}]}, "loss[0].wieght: unknown field; allowed: name"),
    ({"validation": {"metric": "ssim"}}, "validation.metric: Input should be 'psnr', 'loss', 'cldice' or 'betti_error'"),
    ({"data": {"source": "phantom", "kind": "enamel"}},
     "data.kind: Input should be 'dentin', 'lcn', 'cortical' or 'porous' (got 'enamel')"),
    ({"data": {"source": "phantom", "dims": 3}, "dims": 2}, "dims: 2 but data.dims = 3"),
    ({"data": {"source": "phantom", "train_seeds": [1, 2], "val_seeds": [2]}},
     "data.val_seeds: seeds [2] are also in train_seeds"),
    ({"data": {"source": "phantom", "degradation": {"photons": [500, 50]}}},
     "data.degradation.photons: low 500.0 is above high 50.0"),
    ({"data": {"source": "phantom", "degradation": {"microscope": "confocal"}}},
     "data.degradation.microscope: "),
    ({"data": {"source": "cloud"}},
     "data.source: must be one of 'folders', 'degrade', 'phantom' (got 'cloud')"),
    ({"normalization": {"target": "hr"}}, "normalization.target: Input should be 'own' or"),
])
def test_config_errors_name_the_field_and_the_allowed_values(patch, expected):
    config = {"data": {"source": "phantom"}, **patch}
    with pytest.raises(ConfigError) as err:
        parse_config(config, where="cfg.yaml")
    assert str(err.value).startswith("cfg.yaml: ")
    assert expected in str(err.value)


def test_yaml_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  source: phantom\n train: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_config(bad)
    wrong = write_config(tmp_path / "wrong.yaml", {"data": {"source": "phantom"},
                                                   "train": {"steps": 0}})
    with pytest.raises(ConfigError, match=r"wrong.yaml: train.steps: Input should be greater than or equal to 1 \(got 0\)"):
        load_config(wrong)
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_config(tmp_path / "empty.yaml")
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_relative_data_paths_are_relative_to_the_config(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg_path = write_config(tmp_path / "sub" / "c.yaml",
                            {"data": {"source": "folders", "lr": "pairs/lr", "hr": "pairs/hr"}})
    cfg = load_config(cfg_path)
    assert cfg.data.lr == tmp_path / "sub" / "pairs" / "lr"


def test_keyword_front_door():
    import geosr.train as package

    assert callable(package)  # geosr.train(...) works even when it names the subpackage
    cfg = config_from_any(data="dentin", scale=2, model="espcn", steps=7, lr=0.01,
                          **{"validation.every": 3})
    assert cfg.data.source == "phantom" and cfg.data.kind == "dentin"
    assert (cfg.scale, cfg.model.name, cfg.train.steps, cfg.train.lr) == (2, "espcn", 7, 0.01)
    assert cfg.validation.every == 3
    with pytest.raises(ConfigError, match="unknown option 'stepz'.*steps"):
        config_from_any(data="dentin", stepz=3)
    with pytest.raises(ConfigError, match="no training data"):
        config_from_any(steps=3)
    with pytest.raises(ConfigError, match="train.steps: Input should be greater than or equal to 1"):
        config_from_any(data="dentin", steps=0)


# ---------------------------------------------------------------- training runs
def test_determinism_and_model_file(tmp_path):
    first = train(TINY, out=tmp_path / "a")
    second = train(TINY, out=tmp_path / "b")
    assert_identical(weights(first), weights(second))
    from geosr.models import load_model

    loaded = load_model(first)
    spec = loaded.spec
    assert spec["architecture"] == "fsrcnn" and spec["scale"] == 4 and spec["seed"] == 3
    assert spec["data_fingerprint"].startswith("sha256:")
    assert spec["normalization"] == {"kind": "percentile", "p_low": 1.0, "p_high": 99.8,
                                     "eps": 1e-6}
    assert spec["config"]["train"]["steps"] == 40
    degradation = spec["degradation"]
    assert degradation["ranges"]["fwhm_um"] == [0.3, 0.5]
    assert len(degradation["train_draws"]) == 4 and degradation["summary"]["fwhm_um"]["n"] == 4
    validation = spec["validation"]
    assert validation["best_step"] in {h["step"] for h in validation["history"]}
    assert "data range 1" in validation["convention"]
    assert validation["bicubic"]["psnr"] > 0
    rows = read_log(tmp_path / "a" / "log.csv")
    assert [r["step"] for r in rows if r["val_psnr_norm_db"] is not None] == [0, 10, 20, 30, 40]
    assert all(r["loss"] > 0 for r in rows[1:])
    # another seed gives other weights
    other = train({**TINY, "seed": 4}, out=tmp_path / "c")
    assert any(not torch.equal(weights(first)[k], weights(other)[k]) for k in weights(first))


def test_checkpoints_hold_no_pickle_and_refuse_reuse(tmp_path):
    out = tmp_path / "run"
    train({**TINY, "train": {**TINY["train"], "steps": 20, "keep_checkpoints": 2}}, out=out)
    checkpoints = sorted((out / "checkpoints").iterdir())
    assert [c.name for c in checkpoints] == ["step-00000010", "step-00000020"]
    for checkpoint in checkpoints:
        assert sorted(p.name for p in checkpoint.iterdir()) == ["state.json",
                                                                "state.safetensors"]
        tensors = load_file(str(checkpoint / "state.safetensors"))
        assert tensors["rng.torch_cpu"].dtype == torch.uint8
        assert any(k.startswith("optim.") for k in tensors)
        state = json.loads((checkpoint / "state.json").read_text())
        assert state["sampler"]["bit_generator"]["bit_generator"] == "PCG64"
        assert {"python", "numpy_legacy"} <= set(state["rng"])
    with pytest.raises(InputError, match="already holds a training run"):
        train(TINY, out=out)
    with pytest.raises(ConfigError, match="differs from the run being resumed in train.lr"):
        train({**TINY, "train": {**TINY["train"], "steps": 20, "keep_checkpoints": 2,
                                 "lr": 1e-2}}, out=out, resume=True)


_CHILD = textwrap.dedent("""
    import sys, time
    import yaml
    slow = sys.argv[3] == "slow"
    if slow:  # make the run slow enough to be killed mid-way (does not change the numbers)
        import geosr.data.sampling as sampling
        original = sampling.PatchSampler.sample
        def sample(self, n):
            time.sleep(0.15)
            return original(self, n)
        sampling.PatchSampler.sample = sample
    from geosr.train import train
    train(sys.argv[1], out=sys.argv[2], resume=not slow)
""")


def test_kill_and_resume_gives_bit_identical_weights(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", TINY)
    script = tmp_path / "child.py"
    script.write_text(_CHILD, encoding="utf-8")
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    child = subprocess.Popen([sys.executable, str(script), str(config), str(out), "slow"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoints" / "step-00000010" / "state.json").exists():
            assert child.poll() is None, child.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not (out / "model").exists()  # killed mid-way, before the end
    steps_logged = [r["step"] for r in read_log(out / "log.csv")]
    assert max(steps_logged) < 40
    resumed = subprocess.run([sys.executable, str(script), str(config), str(out), "resume"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    reference = train(TINY, out=tmp_path / "reference")
    assert_identical(weights(out / "model"), weights(reference))
    # the log is continuous: every step written once, same values as the uninterrupted run
    killed_log = read_log(out / "log.csv")
    reference_log = read_log(tmp_path / "reference" / "log.csv")
    assert [r["step"] for r in killed_log] == [r["step"] for r in reference_log]
    for a, b in zip(killed_log, reference_log):
        assert (a["loss"], a["val_psnr_norm_db"]) == (b["loss"], b["val_psnr_norm_db"])


def test_early_stopping_and_best_step(tmp_path):
    cfg = {**TINY, "validation": {"every": 5, "patience": 2, "metric": "loss",
                                  "min_delta": 1e9}}
    model_dir = train(cfg, out=tmp_path / "early")
    spec = json.loads((model_dir / "model.json").read_text())
    validation = spec["validation"]
    assert validation["stopped_early"] and validation["steps_done"] == 10
    assert validation["best_step"] == 0 and validation["kept"] == "best"


def test_tensorboard_missing_is_a_dependency_error(tmp_path):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="tensorboard"):
            train({**TINY, "logging": {"tensorboard": True, "progress": False}},
                  out=tmp_path / "tb")
    else:
        pytest.skip("tensorboard is installed")


def test_cli_train(tmp_path):
    import typer
    from typer.testing import CliRunner

    from geosr.cli.train import train as train_command

    app = typer.Typer()
    app.command("train")(train_command)
    app.command("noop")(lambda: None)  # a second command keeps "train" as a subcommand
    config = write_config(tmp_path / "c.yaml", {**TINY, "train": {**TINY["train"],
                                                                   "steps": 10}})
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "cli"),
                                 "--no-progress", "--set", "validation.every=5"])
    assert result.exit_code == 0, result.output
    assert f"model: {tmp_path / 'cli' / 'model'}" in result.output
    assert "validation PSNR (normalised, data range 1): bicubic" in result.output
    assert (tmp_path / "cli" / "model" / "model.json").is_file()
    again = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "cli"),
                                "--no-progress"])
    assert isinstance(again.exception, InputError)
    resumed = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "cli"),
                                  "--no-progress", "--resume", "--set", "validation.every=5"])
    assert resumed.exit_code == 0, resumed.output
    bad = runner.invoke(app, ["train", str(config), "--set", "train.lr=-1"])
    assert isinstance(bad.exception, ConfigError)
    assert "train.lr: Input should be greater than 0" in str(bad.exception)


def test_short_training_beats_bicubic_on_dentin(tmp_path):
    cfg = {
        "seed": 0, "scale": 4,
        "data": {"source": "phantom", "kind": "dentin", "size_um": 25.6, "spacing_um": 0.1,
                 "train_seeds": 3, "val_seeds": [100, 101],
                 "degradation": {"fwhm_um": [0.3, 0.5],
                                 "photons": {"low": 200, "high": 2000, "log": True},
                                 "variants": 2}},
        "model": {"name": "fsrcnn", "arguments": {"d": 32, "s": 8, "m": 2,
                                                  "upsampler": "shuffle"}},
        "patch": {"size": 64},
        "train": {"steps": 200, "batch_size": 8, "lr": 5e-3, "checkpoint_every": 200,
                  "device": "cpu", "threads": 1},
        "validation": {"every": 50, "patience": None},
        "logging": {"progress": False},
    }
    model_dir = train(cfg, out=tmp_path / "dentin")
    summary = json.loads((model_dir.parent / "summary.json").read_text())
    psnr = summary["val_psnr_norm_db"]
    print(f"validation PSNR (normalised, range 1): first {psnr['first']:.2f} dB, bicubic "
          f"{psnr['bicubic']:.2f} dB, trained {psnr['best']:.2f} dB")
    assert abs(psnr["first"] - psnr["bicubic"]) < 0.01   # fsrcnn starts from bicubic
    assert psnr["best"] > psnr["bicubic"] + 0.5
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["validation"]["best"]["loss"] < spec["validation"]["bicubic"]["loss"]


def test_3d_anisotropic_training_uses_in_plane_symmetries(tmp_path):
    cfg = {"scale": 2,
           "data": {"source": "phantom", "dims": 3, "size_um": [6.4, 6.4, 6.4],
                    "spacing_um": [0.2, 0.1, 0.1], "train_seeds": 1, "val_seeds": [9],
                    "degradation": {"fwhm_um": [0.2, 0.3], "variants": 1}},
           "model": {"name": "fsrcnn", "arguments": {"d": 4, "s": 4, "m": 1}},
           "patch": {"size": [8, 16, 16]},
           "train": {"steps": 4, "batch_size": 2, "threads": 1},
           "validation": {"every": 2}, "logging": {"progress": False}}
    model_dir = train(cfg, out=tmp_path / "three_d")
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["dims"] == 3 and spec["training"]["patch_lr"] == [4, 8, 8]
    assert spec["training"]["augmentation"] == {"operations": 8, "in_plane_only": True}


def test_keyword_training_on_a_folder_of_pairs(tmp_path):
    import numpy as np

    from geosr.core.image import Image
    from geosr.io import save

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        hr = rng.random((48, 48)).astype(np.float32)
        lr = hr.reshape(12, 4, 12, 4).mean(axis=(1, 3))
        save(Image(hr, "YX", spacing=(0.1, 0.1)), tmp_path / "pairs" / "hr" / f"{name}.tif")
        save(Image(lr, "YX", spacing=(0.4, 0.4)), tmp_path / "pairs" / "lr" / f"{name}.tif")
    model_dir = train(data=tmp_path / "pairs", scale=4, model={"name": "espcn"}, steps=3,
                      batch_size=2, patch_size=32, out=tmp_path / "run", progress=False,
                      threads=1, **{"data.split": {"names": ["b"]}})
    spec = json.loads((model_dir / "model.json").read_text())
    assert spec["architecture"] == "espcn" and spec["validation"]["images"] == ["b"]
    assert spec["degradation"]["mode"] == "paired_files"
    assert spec["training"]["data"]["train"] == ["a", "c"]


def test_patience_running_out_on_the_last_step_is_not_an_early_stop(tmp_path):
    cfg = {**TINY, "train": {**TINY["train"], "steps": 10},
           "validation": {"every": 5, "patience": 2, "metric": "loss", "min_delta": 1e9}}
    model_dir = train(cfg, out=tmp_path / "last")
    validation = json.loads((model_dir / "model.json").read_text())["validation"]
    assert validation["steps_done"] == 10 and not validation["stopped_early"]
