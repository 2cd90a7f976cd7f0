"""torchrun training (issue 14, item 4): 2 ranks × batch B/2 on loopback (gloo) give the
weights of 1 rank × batch B after 20 steps; only rank 0 writes; resume works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from geosr.train import read_log, train

pytestmark = pytest.mark.slow

CONFIG = {
    "seed": 5, "scale": 2,
    "data": {"source": "phantom", "kind": "dentin", "size_um": 6.4, "spacing_um": 0.1,
             "train_seeds": [0, 1], "val_seeds": [100],
             "degradation": {"fwhm_um": 0.3, "photons": None, "variants": 1}},
    "model": {"name": "fsrcnn", "arguments": {"d": 8, "s": 4, "m": 1}},
    "loss": [{"name": "l1", "weight": 1.0}],
    "patch": {"size": 32},
    "train": {"steps": 20, "batch_size": 4, "lr": 2e-3, "checkpoint_every": 10, "threads": 1,
              "device": "cpu"},
    "validation": {"every": 10, "patience": None},
    "logging": {"every": 5, "progress": False},
}


def _torchrun(cfg: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "MASTER_ADDR": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", "-m", "geosr", "train", str(cfg), "--out",
                           str(out), *extra], capture_output=True, text=True, env=env,
                          timeout=600)


def test_shards_split_the_global_batch():
    from geosr.core.errors import ConfigError
    from geosr.train.distributed import DistContext

    ranks = [DistContext(world=2, rank=r) for r in (0, 1)]
    assert [c.shard(4) for c in ranks] == [slice(0, 2), slice(2, 4)]
    assert not ranks[1].is_main
    with pytest.raises(ConfigError, match="does not divide among 2 processes"):
        ranks[0].shard(5)


def test_two_ranks_equal_one_rank_and_resume(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    one = train(CONFIG, out=tmp_path / "one")
    run = _torchrun(cfg, tmp_path / "two")
    assert run.returncode == 0, run.stderr[-3000:]
    a = load_file(str(one / "weights.safetensors"))
    b = load_file(str(tmp_path / "two" / "model" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for key in a:   # same weights up to float summation order
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-6), key
    # rank 0 alone wrote the log: one row per logged step, as in one process
    log_one = read_log(tmp_path / "one" / "log.csv")
    log_two = read_log(tmp_path / "two" / "log.csv")
    assert [r["step"] for r in log_two] == [r["step"] for r in log_one]
    assert float(log_two[-1]["loss"]) == pytest.approx(float(log_one[-1]["loss"]), rel=1e-3)
    # resume: drop the last checkpoint and the model, continue from step 10 on 2 ranks
    shutil.rmtree(tmp_path / "two" / "model")
    for ckpt in (tmp_path / "two" / "checkpoints").glob("step-00000020"):
        shutil.rmtree(ckpt)
    again = _torchrun(cfg, tmp_path / "two", "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    c = load_file(str(tmp_path / "two" / "model" / "weights.safetensors"))
    for key in a:
        assert torch.allclose(c[key], b[key], rtol=1e-5, atol=1e-7), key
