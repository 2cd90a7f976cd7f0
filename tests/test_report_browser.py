"""The report in a real browser (headless Chromium, Debian's ``chromium``; ``.ci/run`` installs
it when missing): the page opens without script errors, every embedded image decodes, the
sortable index and the slice stepper work, and a screenshot is written.

Without Chromium the test is skipped, except under ``CI=true`` where that is a failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from geosr.core.image import Image
from geosr.degrade import degrade
from geosr.io import save
from geosr.models import build_model, save_model
from geosr.predict import predict

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]

#: Appended to a copy of the page: sorts the index by PSNR, steps the first stepper to its
#: first slice, and records what happened in the DOM for --dump-dom.
_ACTIONS = """<script>
window.addEventListener('load', function () {
  var b = document.body, table = document.querySelector('table.sortable');
  if (table) {
    var th = Array.prototype.filter.call(table.tHead.rows[0].cells,
      function (c) { return c.textContent.indexOf('PSNR') === 0; })[0];
    th.click();
    b.setAttribute('data-sorted', Array.prototype.map.call(table.tBodies[0].rows,
      function (r) { return r.cells[3].dataset.v; }).join(','));
  }
  var s = document.querySelector('.stepper');
  if (s) {
    var data = JSON.parse(s.querySelector('script').textContent);
    var r = s.querySelector('input'); r.value = 0; r.dispatchEvent(new Event('input'));
    b.setAttribute('data-stepped', String(s.querySelector('img').src === data.frames[0]) +
      '|' + s.querySelector('.slice-label').textContent);
  }
});
</script></body>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium not found (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _run(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def _attribute(dom: str, name: str) -> str | None:
    match = re.search(rf"<body[^>]*\s{name}=\"([^\"]*)\"", dom)
    return match.group(1) if match else None


def _phantom_files(root, dims):
    from geosr.phantoms import phantom

    torch.manual_seed(0)
    module = build_model("fsrcnn", dims=dims, scale=2, d=4, s=2, m=1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = save_model(root / f"model{dims}d", module)
    size = (12.8 if dims == 2 else (3.2, 6.4, 6.4))
    for k in range(2 if dims == 2 else 1):
        hr = phantom("dentin", dims=dims, size_um=size, spacing_um=0.1, seed=k).image
        hr = hr.replace(data=np.asarray(hr.numpy(), np.float32))
        lr = degrade(hr, scale=2, fwhm_um=0.2, photons=200.0, read_noise=0.01, seed=k)
        for folder, image in (("hr", hr), ("lr", lr), ("sr", predict(lr, model, device="cpu"))):
            save(image, root / f"{folder}{dims}d" / f"p{k}.tif")
    return model


@pytest.fixture(autouse=True)
def _native_kernels():
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def test_report_opens_in_headless_chromium(tmp_path):
    from geosr.report.api import report

    browser = _chromium()
    model2, model3 = _phantom_files(tmp_path, 2), _phantom_files(tmp_path, 3)
    folder = report(tmp_path / "sr2d", lr=tmp_path / "lr2d", truth=tmp_path / "hr2d",
                    model=model2, data_range=1.0, out=tmp_path / "folder.html")
    volume = report(tmp_path / "sr3d" / "p0.tif", lr=tmp_path / "lr3d" / "p0.tif",
                    truth=tmp_path / "hr3d" / "p0.tif", model=model3, data_range=1.0,
                    trust=None, network_metrics="porosity,topology",
                    out=tmp_path / "volume.html")
    for page in (folder, volume):
        html = page.read_text(encoding="utf-8")
        n_images = html.count("<img ")
        probe = page.with_name(page.stem + "_probe.html")
        probe.write_text(html.replace("</body>", _ACTIONS, 1), encoding="utf-8")
        run = _run(browser, tmp_path, "--dump-dom", probe.as_uri())
        assert run.returncode == 0, run.stderr[-2000:]
        dom = run.stdout
        assert _attribute(dom, "data-loaded") == "1", dom[-500:]
        assert _attribute(dom, "data-images") == str(n_images) and n_images >= 10
        assert _attribute(dom, "data-undecoded") == ""      # every embedded image decodes
        assert _attribute(dom, "data-errors") == ""         # no script error
        console = [line for line in run.stderr.splitlines()
                   if "CONSOLE" in line or "Uncaught" in line]
        assert not console, console
        if page is folder:   # the index sorts by PSNR (ascending on the first click)
            values = [float(v) for v in _attribute(dom, "data-sorted").split(",")]
            assert len(values) == 2 and values == sorted(values)
        else:                # the stepper shows its first slice
            stepped, label = _attribute(dom, "data-stepped").split("|")
            assert stepped == "true" and label.startswith("slice 1/")
    shot = tmp_path / "report.png"
    run = _run(browser, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}",
               folder.as_uri())
    assert run.returncode == 0 and shot.stat().st_size > 50_000
    from PIL import Image as PILImage

    with PILImage.open(shot) as im:
        assert im.size == (1280, 2400)
        assert np.asarray(im.convert("L")).std() > 10   # not a blank page
