"""The report's trust section from a ``geosr trust`` folder found beside the prediction: the
verdict overlay and maps, what controlled false alarms (``verdict_control``), and the elements
most likely invented (``elements.csv``, least confident first) — all optional."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch

from geosr.degrade import degrade
from geosr.io import save
from geosr.models import build_model, save_model
from geosr.predict import predict


@pytest.fixture(autouse=True)
def _native_kernels():
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def test_report_shows_trust_folder_with_elements_and_control(tmp_path):
    from geosr.phantoms import phantom
    from geosr.report.api import report
    from geosr.report.case import read_csv_rows
    from geosr.trust.report import trust_folder, trust_report

    torch.manual_seed(0)
    module = build_model("fsrcnn", dims=2, scale=2, d=4, s=2, m=1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = save_model(tmp_path / "model", module)
    hr = phantom("dentin", dims=2, size_um=9.6, spacing_um=0.1, seed=3).image
    lr = degrade(hr.replace(data=np.asarray(hr.numpy(), np.float32)), scale=2, fwhm_um=0.2,
                 photons=200.0, read_noise=0.01, seed=0)
    save(lr, tmp_path / "lr.tif")
    save(predict(lr, model, device="cpu"), tmp_path / "sr.tif")
    folder = trust_folder(tmp_path / "sr.tif")
    rep = trust_report(tmp_path / "sr.tif", tmp_path / "lr.tif", model=model, confidence=True,
                       out=folder)
    page = report(tmp_path / "sr.tif", lr=tmp_path / "lr.tif", model=model,
                  out=tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"read from {folder}" in page                      # found beside the prediction
    verdict = rep.summary["verdict"]["image"]
    assert f"<b class='verdict-{verdict}'>{verdict}</b>" in page
    assert "What controlled false alarms: " + html.escape(rep.summary["verdict_control"]) in page
    assert "tiles tinted by verdict" in page and "|z| of the re-degraded prediction" in page
    rows = read_csv_rows(folder / "elements.csv")
    assert rows, "the trust layer wrote no element"
    table = page[page.index("most likely invented"):]
    table = table[:table.index("</table>")]
    shown = re.findall(r"<tr><td>([^<]*)</td><td>(component|branch)</td>", table)
    for kind in ("component", "branch"):
        ranked = sorted((r for r in rows if r["kind"] == kind),
                        key=lambda r: float(r["confidence"]))[:10]
        assert [i for i, k in shown if k == kind] == [r["id"] for r in ranked]
    assert "confidence of each detected element" in page      # element_confidence.tif
    # without the folder and without computing, the section is simply absent
    bare = report(tmp_path / "sr.tif", trust=None, compute=False, out=tmp_path / "b.html")
    assert "Trust evidence" not in bare.read_text(encoding="utf-8")
