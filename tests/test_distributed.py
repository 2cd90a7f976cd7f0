"""dask.distributed (issue 14, item 2): chunks as tasks on a 2-worker LocalCluster give the
same bytes as the single-process path; a worker killed mid-run loses nothing; chunked
assessment on the cluster equals the in-process result."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from geosr.core import Image
from geosr.core.cluster import parse_cluster
from geosr.core.errors import ConfigError
from geosr.io import save
from geosr.models import build_model, save_model

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    torch.manual_seed(0)
    model = save_model(tmp / "m", build_model("fsrcnn", dims=3, scale=2, d=4, s=2, m=1))
    data = (np.random.default_rng(0).random((32, 32, 40)) * 1000 + 50).astype(np.float32)
    save(Image(data, "ZYX", spacing=(0.5,) * 3), tmp / "in.zarr")   # 4 × 4 × 5 = 80 blocks
    return tmp, model


def _chunk_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted((folder / "0").rglob("*")) if p.is_file()}


def _reference(tmp, model):
    from geosr.models.summary import native_kernels
    from geosr.predict.outofcore import predict_to_zarr

    ref = tmp / "ref.ome.zarr"
    if not ref.exists():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with native_kernels():
                predict_to_zarr(tmp / "in.zarr", ref, model, block=8, device="cpu")
        finally:
            torch.set_num_threads(threads)
    return _chunk_bytes(ref)


def test_parse_cluster():
    assert parse_cluster("local:3") == ("local", 3)
    with pytest.raises(ConfigError, match="unknown cluster"):
        parse_cluster("slurm")
    with pytest.raises(ConfigError, match="positive number"):
        parse_cluster("local:0")


def test_worker_killed_mid_run_loses_nothing(setup, client):
    from geosr.predict.outofcore import predict_to_zarr

    tmp, model = setup
    out = tmp / "killed.ome.zarr"
    markers = tmp / ".killed.ome.zarr.partial" / ".geosr-chunks"
    result: dict = {}

    def run() -> None:
        result.update(predict_to_zarr(tmp / "in.zarr", out, model, block=8, device="cpu",
                                      cluster=client))

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 300
    while time.time() < deadline and not (markers.is_dir()
                                          and len(list(markers.iterdir())) >= 6):
        time.sleep(0.01)
    pid = next(iter(client.run(os.getpid).values()))
    os.kill(pid, signal.SIGKILL)                       # one worker dies mid-run
    at_kill = len(list(markers.iterdir()))
    thread.join(600)
    assert at_kill < 80, "the run ended before the worker was killed"
    assert result["status"] == "written" and result["chunks"] == 80
    assert _chunk_bytes(out) == _reference(tmp, model)   # same bytes as one process


def test_cluster_prediction_and_assessment_match_one_process(setup, client):
    from geosr.assess.network.chunked import assess_chunked
    from geosr.predict.outofcore import predict_to_zarr

    tmp, model = setup
    out = tmp / "cluster.ome.zarr"
    seen = []
    predict_to_zarr(tmp / "in.zarr", out, model, block=8, device="cpu", cluster=client,
                    progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (80, 80) and len(seen) == 81
    assert _chunk_bytes(out) == _reference(tmp, model)
    here = assess_chunked(str(out), str(tmp / "ref.ome.zarr"), chunk=24, skeleton_margin=4)
    there = assess_chunked(str(out), str(tmp / "ref.ome.zarr"), chunk=24, skeleton_margin=4,
                           cluster=client)
    assert here == there
    assert here["prediction"]["components"] == here["truth"]["components"]
