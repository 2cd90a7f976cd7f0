"""Dock widgets: *Predict*, *Trust* and *Assess*. Each one reads layers into
:class:`geosr.core.Image` (:mod:`geosr.napari._layers`), calls one public geosr function in a
worker thread (:func:`napari.qt.threading.thread_worker`), and adds the result as layers
aligned in physical space (µm). They hold no computation of their own.

- *Predict*: image layer + model (folder, zip or bioimage.io package made by geosr) + tile +
  device → :func:`geosr.predict`, with a progress bar and a Cancel button; the result is a new
  layer ``"<input> SR xS"`` whose scale is the input's / S and whose translate is the centre of
  its first pixel.
- *Trust*: prediction + LR layers (+ model) → :func:`geosr.trust.report.trust_report`; the
  verdict as a labels layer (1 green, 2 amber, 3 red), the maps as image layers, the physics
  and calibration summary as text.
- *Assess*: prediction + truth layers → :func:`geosr.assess_network`; the metrics in a table
  and the missed (orange) / invented (blue) network as labels layers.

``run(sync=True)`` computes in the calling thread (scripts, tests); the default runs in a
worker thread and returns the worker.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from magicgui import widgets

from geosr.napari._layers import GEOSR_KEY, layer_data, layer_image

__all__ = ["PredictWidget", "TrustWidget", "AssessWidget", "Cancelled", "VERDICT_COLOURS"]

#: Labels value → colour of the verdict layer (value = geosr verdict code + 1).
VERDICT_COLOURS = {0: "transparent", 1: "#2ca02c", 2: "#ffb000", 3: "#d62728",
                   None: "transparent"}
_MISSED, _INVENTED = "#ff8c00", "#0096ff"    # the colours of geosr's overlays


class Cancelled(Exception):
    """Raised inside a computation when the user pressed Cancel."""


def _layer_names(viewer: Any, kinds: tuple[str, ...]) -> list[str]:
    return [layer.name for layer in viewer.layers
            if type(layer).__name__.lower() in kinds]


class _GeosrWidget(widgets.Container):
    """Common parts: layer choosers refreshed with the layer list, a Run button, a status
    line, and the thread/sync runner. A widget defines ``_job()`` (the work to run, a
    callable without arguments; checked when the class is defined) and ``_done(result)``."""

    _HOOKS = ("_job", "_done")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in cls._HOOKS if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"{cls.__name__} must define {', '.join(missing)}")

    def __init__(self, napari_viewer: Any, title: str):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.status = widgets.Label(value="")
        self.run_button = widgets.PushButton(text=title)
        self.run_button.changed.connect(lambda *_: self.run())
        self.worker: Any = None
        self.error: BaseException | None = None
        events = getattr(self.viewer.layers, "events", None)
        if events is not None:
            for name in ("inserted", "removed", "changed"):
                if hasattr(events, name):
                    getattr(events, name).connect(lambda *_: self._refresh())

    def _chooser(self, label: str, kinds: tuple[str, ...]) -> widgets.ComboBox:
        return widgets.ComboBox(label=label, choices=lambda *_: _layer_names(self.viewer, kinds))

    def _refresh(self) -> None:
        for w in self:
            if isinstance(w, widgets.ComboBox):
                w.reset_choices()

    def _layer(self, box: widgets.ComboBox) -> Any:
        if box.value is None:
            raise ValueError(f"choose a layer for '{box.label}'")
        return self.viewer.layers[box.value]

    def run(self, sync: bool = False) -> Any:
        """Start the computation; with ``sync`` compute now and return the result."""
        self.error = None
        try:
            job = self._job()
        except Exception as err:   # bad choice: show it, do not start
            self._failed(err)
            return None
        self.status.value = "running..."
        if sync:
            try:
                result = job()
            except Exception as err:
                self._failed(err)
                return None
            self._done(result)
            return result
        from napari.qt.threading import create_worker

        self.worker = create_worker(job, _start_thread=False,   # errors shown, not re-raised
                                    _connect={"returned": self._done, "errored": self._failed})
        self._before_start(self.worker)
        self.worker.start()
        return self.worker

    def _before_start(self, worker: Any) -> None:
        """Hook: connect extra signals before the worker starts."""

    def _failed(self, err: BaseException) -> None:
        self.error = err
        self.status.value = ("cancelled" if isinstance(err, Cancelled)
                             else f"error: {err}")


class PredictWidget(_GeosrWidget):
    """Super-resolve an image layer with a geosr model (see the module docstring)."""

    def __init__(self, napari_viewer: Any):
        super().__init__(napari_viewer, "Predict")
        self.image = self._chooser("image", ("image",))
        self.model = widgets.FileEdit(label="model", mode="r",
                                      tooltip="model .zip, a bioimage.io package exported by "
                                              "geosr, or (tick 'folder') a model folder")
        self.folder = widgets.CheckBox(label="folder", value=False,
                                       tooltip="browse for a model folder instead of a file")
        self.folder.changed.connect(lambda on: setattr(self.model, "mode", "d" if on else "r"))
        self.tile = widgets.SpinBox(label="tile (0 = auto)", value=0, min=0, max=100000)
        self.device = widgets.ComboBox(label="device", choices=["auto", "cpu", "cuda"],
                                       value="auto")
        self.progress = widgets.ProgressBar(label="progress", value=0, min=0, max=1)
        self.cancel_button = widgets.PushButton(text="Cancel")
        self.cancel_button.changed.connect(lambda *_: self.cancel())
        self._cancel = threading.Event()
        self._done_tiles = [0, 1]
        self._source = ""
        self.extend([self.image, self.model, self.folder, self.tile, self.device,
                     self.run_button, self.progress, self.cancel_button, self.status])

    def cancel(self) -> None:
        """Ask the running prediction to stop after its current batch of tiles."""
        self._cancel.set()

    def _progress(self, done: int, total: int) -> None:
        self._done_tiles = [done, total]
        if self._cancel.is_set():
            raise Cancelled()

    def _job(self) -> Callable[[], Any]:
        from geosr.predict import predict

        layer = self._layer(self.image)
        image, model = layer_image(layer), str(self.model.value)
        tile, device = (self.tile.value or None), self.device.value
        self._cancel.clear()
        self._source = layer.name
        return lambda: predict(image, model, tile=tile, device=device, progress=self._progress)

    def _before_start(self, worker: Any) -> None:
        """Update the progress bar from the GUI thread while the worker runs."""
        from qtpy.QtCore import QTimer

        timer = QTimer()
        timer.setInterval(100)

        def tick() -> None:
            done, total = self._done_tiles
            self.progress.max, self.progress.value = max(total, 1), min(done, max(total, 1))
            if not worker.is_running:
                timer.stop()
        timer.timeout.connect(tick)
        timer.start()
        self._timer = timer

    def _done(self, result: Any) -> None:
        scale = result.metadata["prediction"]["scale"]
        name = f"{self._source} SR x{'x'.join(str(s) for s in sorted(set(scale)))}"
        data, kwargs, kind = layer_data(result, name)
        kwargs["metadata"][GEOSR_KEY] = {**kwargs["metadata"][GEOSR_KEY],
                                         "lr_layer": self._source,
                                         "model": str(self.model.value)}
        self.viewer.add_image(data, **kwargs)
        # the timer may not have ticked before a fast prediction ended: show the final count
        self.progress.max = max(self._done_tiles[1], 1)
        self.progress.value = self.progress.max
        self.status.value = f"added '{name}'"


class TrustWidget(_GeosrWidget):
    """Trust evidence of a prediction (see the module docstring)."""

    def __init__(self, napari_viewer: Any):
        super().__init__(napari_viewer, "Trust")
        self.prediction = self._chooser("prediction", ("image",))
        self.lr = self._chooser("low-resolution input", ("image",))
        self.model = widgets.FileEdit(label="model (optional)", mode="r", value="")
        self.uncertainty = widgets.ComboBox(label="uncertainty",
                                            choices=["auto", "tta", "constant", "none"],
                                            value="auto")
        self.summary = widgets.TextEdit(label="summary", value="")
        self.summary.native.setReadOnly(True) if hasattr(self.summary.native,
                                                         "setReadOnly") else None
        self.extend([self.prediction, self.lr, self.model, self.uncertainty, self.run_button,
                     self.status, self.summary])

    def _job(self) -> Callable[[], Any]:
        from geosr.trust.report import trust_report

        pred_layer = self._layer(self.prediction)
        pred, lr = layer_image(pred_layer), layer_image(self._layer(self.lr))
        model = str(self.model.value) if str(self.model.value) not in ("", ".") else (
            pred_layer.metadata.get(GEOSR_KEY, {}).get("model"))
        unc = None if self.uncertainty.value == "none" else self.uncertainty.value
        self._source = pred_layer.name
        return lambda: trust_report(pred, lr, model=model, uncertainty=unc)

    def _done(self, report: Any) -> None:
        for name, image in report.maps.items():
            if name == "verdict":
                codes = image.replace(data=image.numpy().astype("uint8") + 1)
                data, kwargs, _ = layer_data(codes, f"{self._source} verdict", "labels",
                                             opacity=0.4)
                self.viewer.add_labels(data, colormap=VERDICT_COLOURS, **kwargs)
            else:
                data, kwargs, _ = layer_data(image, f"{self._source} {name}", visible=False)
                self.viewer.add_image(data, **kwargs)
        self.summary.value = summary_text(report.summary)
        self.status.value = f"verdict: {(report.summary.get('verdict') or {}).get('image')}"


def summary_text(summary: dict) -> str:
    """The verdict and its reasons, the physics limits and the calibration status as text
    (from the trust report's ``summary``)."""
    verdict = summary.get("verdict") or {}
    tiles = verdict.get("tiles") or {}
    lines = [f"verdict: {verdict.get('image')} - {verdict.get('meaning', '')}",
             f"tiles: {tiles.get('green', 0)} green, {tiles.get('amber', 0)} amber, "
             f"{tiles.get('red', 0)} red"]
    lines += [f"- {r}" for r in verdict.get("global_reasons", [])]
    physics = summary.get("physics") or {}
    if physics:
        lines.append("physics:")
        for key in ("kind", "resolution_um", "supported_scale", "scale_exceeds_optics",
                    "undersampled_input", "power_above_cutoff"):
            if key in physics:
                value = physics[key]
                lines.append(f"  {key}: {value:.4g}" if isinstance(value, float)
                             else f"  {key}: {value}")
        lines += [f"  ! {w}" for w in physics.get("warnings", [])]
    intervals = summary.get("intervals") or {}
    if intervals.get("refused"):
        lines.append("calibration: intervals refused - " + "; ".join(intervals["refused"]))
    elif intervals:
        lines.append("calibration: " + ", ".join(f"{k}: {v}" for k, v in intervals.items()
                                                 if isinstance(v, (str, int, float))))
    else:
        lines.append("calibration: none")
    lines += [f"{k}: {v}" for k, v in (verdict.get("legend") or {}).items()]
    return "\n".join(lines)


class AssessWidget(_GeosrWidget):
    """Network metrics of a prediction against a truth layer (see the module docstring)."""

    def __init__(self, napari_viewer: Any):
        super().__init__(napari_viewer, "Assess")
        self.prediction = self._chooser("prediction", ("image", "labels"))
        self.truth = self._chooser("truth", ("image", "labels"))
        self.table = widgets.Table(label="metrics", value={"data": [], "columns": []})
        self.extend([self.prediction, self.truth, self.run_button, self.status, self.table])
        self.result: Any = None

    def _job(self) -> Callable[[], Any]:
        from geosr.assess.network import assess_network

        pred_layer = self._layer(self.prediction)
        pred, truth = layer_image(pred_layer), layer_image(self._layer(self.truth))
        self._source = pred_layer.name
        return lambda: assess_network(pred, truth, name=pred_layer.name)

    def _done(self, result: Any) -> None:
        self.result = result
        rows = [[r["metric"], _num(r.get("prediction")), _num(r.get("truth")),
                 _num(r.get("error"))] for r in result.rows]
        self.table.value = {"data": rows, "index": list(range(len(rows))),
                            "columns": ["metric", "prediction", "truth", "error"]}
        template = layer_image(self.viewer.layers[self._source])
        if result.gt_mask is not None and result.pred_mask is not None:
            missed = (result.gt_mask & ~result.pred_mask).astype("uint8")
            invented = (result.pred_mask & ~result.gt_mask).astype("uint8")
            for name, mask, colour in (("missed", missed, _MISSED),
                                       ("invented", invented, _INVENTED)):
                data, kwargs, _ = layer_data(template.replace(data=mask, metadata={}),
                                             f"{self._source} {name}", "labels")
                self.viewer.add_labels(data, colormap={0: "transparent", 1: colour,
                                                       None: "transparent"}, **kwargs)
        self.status.value = f"{len(rows)} metrics ({time.strftime('%H:%M:%S')})"


def _num(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value
