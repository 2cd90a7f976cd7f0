"""Render the README screenshot of geosr's napari plugin: the dentin phantom sample, the
Predict → Trust → Assess widgets run on it, the viewer with the widgets docked.

Needs the napari extra, a Qt binding and an OpenGL display (a desktop, or Xvfb + Mesa):

    xvfb-run -a -s "-screen 0 1600x1000x24" python examples/napari_screenshot.py \
        [--model runs/napari_demo/model] [--out docs/napari_geosr.png]

Without ``--model`` an FSRCNN x4 is trained on dentin phantoms first (300 steps, a few minutes
on 2 CPU cores) into ``runs/napari_demo``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _model(path: str | None) -> Path:
    import geosr

    if path:
        return Path(path)
    out = Path("runs/napari_demo")
    if (out / "model" / "model.json").is_file():
        return out / "model"
    return geosr.train(data="dentin", scale=4, model="fsrcnn", steps=300, out=str(out),
                       seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="geosr model folder/zip (default: train one)")
    parser.add_argument("--out", default="docs/napari_geosr.png", help="PNG to write")
    args = parser.parse_args()
    model = _model(args.model)

    import napari
    from PIL import Image as PILImage

    from geosr.napari._sample import dentin_2d
    from geosr.napari._widgets import AssessWidget, PredictWidget, TrustWidget

    viewer = napari.Viewer(show=False, title="geosr")
    viewer.window.resize(1400, 900)
    for data, kwargs, kind in dentin_2d():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    predict, trust, assess = PredictWidget(viewer), TrustWidget(viewer), AssessWidget(viewer)
    for widget, name in ((assess, "Assess"), (trust, "Trust"), (predict, "Predict")):
        viewer.window.add_dock_widget(widget, name=name, area="right")
    predict.image.value, predict.model.value, predict.device.value = (
        "dentin LR x4", str(model), "cpu")
    predict.run(sync=True)
    sr = "dentin LR x4 SR x4"
    trust.prediction.value, trust.lr.value, trust.uncertainty.value = sr, "dentin LR x4", "tta"
    trust.run(sync=True)
    assess.prediction.value, assess.truth.value = sr, "dentin truth mask"
    assess.run(sync=True)
    for layer in viewer.layers:
        layer.visible = layer.name in (sr, f"{sr} missed", f"{sr} invented")
    viewer.layers.selection.active = viewer.layers[sr]
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=False, flash=False)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(shot).save(out)
    print(f"{out}: {shot.shape[1]}x{shot.shape[0]} px; trust: {trust.status.value}; "
          f"assess: {assess.status.value}")
    viewer.close()


if __name__ == "__main__":
    main()
