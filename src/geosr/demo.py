"""The main job: what ``geosr demo`` (and ``make demo``) runs.

A dentin phantom (tubules and sub-micron branches, ground truth known) is degraded by the
forward model into a simulated low-resolution confocal acquisition and upsampled back with the
classical methods; the default light model (FSRCNN) is trained on *other* dentin phantoms
degraded the same way and applied to it. Everything is written to one folder with a
self-contained ``report.html`` that shows input, bicubic, model and truth side by side at the
same physical size, with labelled image-quality numbers.

>>> report = run_demo("runs/demo", scale=4, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import html
import os
from pathlib import Path


from geosr.core.errors import ConfigError
from geosr.core.files import atomic_path, write_json
from geosr.core.progress import progress_bar
from geosr.core.provenance import environment

__all__ = ["run_demo", "DEMO_DEFAULTS"]

#: The embedded default: a 2D dentin section imaged at 0.1 µm, acquired ×scale coarser with a
#: confocal PSF (520 nm emission, NA 1.4) and Poisson–Gaussian noise.
DEMO_DEFAULTS = {
    "phantom": {"kind": "dentin", "dims": 2, "size_um": 51.2, "spacing_um": 0.1},
    "acquisition": {"wavelength_nm": 520.0, "na": 1.4, "microscope": "confocal",
                    "photons": 200.0, "read_noise": 0.01},
    "methods": ["nearest", "linear", "bicubic", "lanczos"],
    # the demo image is phantom seed 20000 + seed: never among the training/validation seeds
    "truth_seed_offset": 20000,
    # held-out phantoms (seeds 30000 + i) that calibrate the trained model's trust evidence
    "calibration_seed_offset": 30000,
    "calibration_pairs": 12,
    "calibration_alpha": 0.1,
}

#: Training of the default light model, embedded so the demo needs no file (the same recipe as
#: examples/train_dentin_x4.yaml, with fewer steps).
DEMO_TRAINING = {
    "version": 1,
    "data": {
        "source": "phantom", "kind": "dentin", "dims": 2, "size_um": 51.2, "spacing_um": 0.1,
        "train_seeds": 6, "val_seeds": [10000, 10001],
        "degradation": {"wavelength_nm": 520, "na": 1.4, "microscope": "confocal",
                        "photons": {"low": 50, "high": 500, "log": True},
                        "read_noise": [0.0, 0.02], "variants": 3},
    },
    "model": {"name": "fsrcnn", "arguments": {}},
    "loss": [{"name": "l1", "weight": 1.0}, {"name": "ssim", "weight": 0.2}],
    "patch": {"size": 64, "foreground_bias": 0.8},
    "train": {"steps": 1500, "batch_size": 16, "lr": 0.002, "schedule": "cosine",
              "checkpoint_every": 250, "threads": 2, "device": "auto"},
    "validation": {"every": 250, "metric": "psnr", "patience": 4},
    "logging": {"every": 25},
}


def run_demo(out: str | os.PathLike = "runs/demo", *, scale: int = 4, seed: int = 0,
             train_steps: int | None = None, calibration_pairs: int | None = None,
             show_progress: bool = True) -> Path:
    """Run the demo and return the path of ``report.html``.

    Parameters
    ----------
    out:
        Output folder; replaced as a whole when the run succeeds, untouched if it fails.
    scale:
        Super-resolution factor, 2, 4 or 8 (the phantom is 512 pixels wide, so 8 is the most).
    seed:
        Seed of the phantom, of the acquisition noise and of training.
    train_steps:
        Training steps of the default model (default 1500: about two minutes on 2 CPU cores);
        0 skips training (and the trust evidence, which is about the trained model).
    calibration_pairs:
        Held-out simulated pairs that calibrate the model's trust evidence (default 12; 0 skips
        calibration: the verdict is then red, "no calibration card").
    """
    steps, n_calibration = _check_arguments(scale, train_steps, calibration_pairs)
    out = Path(out)
    with atomic_path(out, is_dir=True) as tmp, progress_bar() as bar:
        task = bar.add_task("demo", total=5 + len(DEMO_DEFAULTS["methods"])) \
            if show_progress else None

        def advance(description: str) -> None:
            if task is not None:
                bar.update(task, advance=1, description=description)

        truth, low, upscaled = _simulate(tmp, scale, seed, advance)
        model_dir, predicted, trust = None, {}, None
        if steps > 0:
            model_dir, predicted = _train_and_predict(tmp, low, scale, seed, steps,
                                                      show_progress)
        advance("model")
        if steps > 0:
            trust = _trust_evidence(model_dir, low, predicted["fsrcnn"], tmp, scale, seed,
                                    n_calibration)
        advance("trust")
        case = _case(truth, low, upscaled, predicted, scale, trust, model_dir)
        write_json(tmp / "metrics.json", _image_metrics(case))
        write_json(tmp / "network_metrics.json", _network_metrics(case))
        write_json(tmp / "run.json", {"job": "demo", "scale": scale, "seed": seed,
                                      "train_steps": steps, "training": DEMO_TRAINING,
                                      "defaults": DEMO_DEFAULTS,
                                      "phantom_params": truth.params,
                                      "degradation": low.metadata["degradation"],
                                      "environment": environment()})
        _write_report(tmp / "report.html", case, truth, upscaled, scale)
        advance("report")
    return out / "report.html"


def _check_arguments(scale: int, train_steps: int | None, calibration_pairs: int | None
                     ) -> tuple[int, int]:
    """Refuse bad arguments before any work; return (training steps, calibration pairs)."""
    if scale not in (2, 4, 8):
        raise ConfigError(f"must be 2, 4 or 8, got {scale}", where="scale")
    steps = DEMO_TRAINING["train"]["steps"] if train_steps is None else int(train_steps)
    if steps < 0:
        raise ConfigError(f"must be >= 0, got {steps}", where="train_steps")
    n_calibration = (DEMO_DEFAULTS["calibration_pairs"] if calibration_pairs is None
                     else int(calibration_pairs))
    if n_calibration < 0:
        raise ConfigError(f"must be >= 0, got {n_calibration}", where="calibration_pairs")
    return steps, n_calibration


def _simulate(tmp: Path, scale: int, seed: int, advance):
    """The phantom (``truth/``), its simulated acquisition (``lr.tif`` + parameters) and the
    classical upsamplings (``upscaled_<method>.tif``)."""
    from geosr.degrade import degrade
    from geosr.io import save
    from geosr.phantoms import phantom
    from geosr.resample import upscale

    truth = phantom(**DEMO_DEFAULTS["phantom"], seed=DEMO_DEFAULTS["truth_seed_offset"] + seed)
    truth.save(tmp / "truth")
    advance("phantom")
    low = degrade(truth.image, scale=scale, seed=seed, **DEMO_DEFAULTS["acquisition"])
    save(low, tmp / "lr.tif")
    write_json(tmp / "lr.tif.params.json", low.metadata["degradation"])
    advance("degraded")
    upscaled = {}
    for method in DEMO_DEFAULTS["methods"]:
        upscaled[method] = upscale(low, scale, method=method)
        save(upscaled[method], tmp / f"upscaled_{method}.tif")
        advance(method)
    return truth, low, upscaled


def _train_and_predict(tmp: Path, low, scale: int, seed: int, steps: int,
                       show_progress: bool):
    """Train the default light model on other phantoms (``training/``) and apply it."""
    from geosr.io import save
    from geosr.predict import predict
    from geosr.train import train

    model_dir = train(DEMO_TRAINING, scale=scale, seed=seed, steps=steps,
                      out=str(tmp / "training"), show_progress=show_progress)
    prediction = predict(low, model_dir, device="cpu")
    save(prediction, tmp / "predicted_fsrcnn.tif")
    return model_dir, {"fsrcnn": prediction}


def _trust_evidence(model_dir: Path, low, prediction, tmp: Path, scale: int, seed: int,
                    n_pairs: int):
    """Calibrate the trained model on held-out simulated pairs (the same forward model; seeds
    never used for training or validation) and write the trust evidence of its prediction to
    ``tmp/trust`` (maps + trust.json). Returns the :class:`~geosr.trust.TrustReport`."""
    from geosr.degrade import degrade
    from geosr.phantoms import phantom
    from geosr.trust import calibrate, trust_report

    card = None
    if n_pairs > 0:
        pairs = []
        for i in range(n_pairs):
            pair_seed = DEMO_DEFAULTS["calibration_seed_offset"] + 100 * seed + i
            ph = phantom(**DEMO_DEFAULTS["phantom"], seed=pair_seed)
            pairs.append((degrade(ph.image, scale=scale, seed=pair_seed,
                                  **DEMO_DEFAULTS["acquisition"]), ph.image))
        card = calibrate(model_dir, pairs, alpha=DEMO_DEFAULTS["calibration_alpha"],
                         uncertainty="tta", simulated=True,
                         out=model_dir / "calibration.json",
                         description=f"{n_pairs} held-out dentin phantoms, demo forward model")
    acquisition = DEMO_DEFAULTS["acquisition"]
    return trust_report(prediction, low, model=model_dir, card=card,
                        wavelength_nm=acquisition["wavelength_nm"], na=acquisition["na"],
                        microscope=acquisition["microscope"], out=tmp / "trust")


def _case(truth, low, upscaled: dict, predicted: dict, scale: int, trust,
          model_dir: Path | None):
    """The demo as one report case (the same :mod:`geosr.report` code as ``geosr report``):
    the model's prediction (bicubic when no model was trained) beside bicubic and the truth,
    image quality on the whole field (no crop, data range 1: the phantom's scale) and the
    network metrics of both against the truth (Otsu of the truth)."""
    from geosr.report.build import evaluation_part, model_info, network_part
    from geosr.report.case import Case, Evidence

    info = model_info(model_dir) if model_dir is not None else None
    prediction = predicted.get("fsrcnn", upscaled["bicubic"])
    case = Case(name="dentin phantom", prediction=prediction, lr=low, truth=truth.image,
                interpolation=upscaled["bicubic"] if predicted else None, model=info,
                model_shown="training/model" if info is not None else "")
    case.labels = {"prediction": f"fsrcnn (trained on other phantoms) ×{scale}" if predicted
                   else f"bicubic ×{scale}", "interpolation": f"bicubic ×{scale}"}
    case.files = {"prediction": "predicted_fsrcnn.tif" if predicted else
                  "upscaled_bicubic.tif", "lr": "lr.tif", "truth": "truth/image.tif"}
    case.evaluation = evaluation_part(case, data_range=1.0, crop=0)
    case.evaluation.convention["truth"] = "phantom intensities in [0, 1]; whole field"
    case.network = network_part(case, sorted({g for g, _ in _NETWORK_ROWS}), None)
    if trust is not None:
        case.trust = Evidence(trust.summary, maps=dict(trust.maps), where="trust/",
                              source="computed by the demo")
    case.commands = {"prediction": "geosr demo (trained model applied to lr.tif)",
                     "image quality": "geosr evaluate PRED truth/image.tif --data-range 1 "
                                      "--crop 0 (same function)",
                     "network metrics": "geosr assess PRED truth/image.tif (same function)",
                     "trust evidence": "calibrated on held-out simulated pairs (run.json)"}
    return case


def _keys(case) -> dict[str, str]:
    """Report labels → the demo's file names for them (``fsrcnn``, ``bicubic``)."""
    return {"prediction": "fsrcnn", "interpolation": "bicubic"} if \
        case.interpolation is not None else {"prediction": "bicubic"}


def _image_metrics(case) -> dict:
    """PSNR and SSIM of each output against the truth, as the report shows them."""
    result = {name: {"psnr_db": round(case.evaluation.values[key]["PSNR"], 3),
                     "ssim": round(case.evaluation.values[key]["SSIM"], 4)}
              for key, name in _keys(case).items()}
    result["convention"] = ("truth = phantom intensities in [0, 1]; data range 1.0; whole "
                            "field, no border crop; no intensity fit")
    return result


#: Network metrics kept in network_metrics.json: (group, metric) -> label.
_NETWORK_ROWS = {
    ("components", "components"): "connected components",
    ("components", "object_F1"): "component F1",
    ("topology", "beta1"): "β1 (loops)",
    ("topology", "betti_error_0"): "Betti error β0 per tile",
    ("topology", "betti_error_1"): "Betti error β1 per tile",
    ("cldice", "clDice"): "clDice",
    ("skeleton", "length_density_mm"): "length density (mm⁻¹)",
    ("skeleton", "endpoint_density"): "endpoint density (mm⁻²)",
    ("porosity", "porosity"): "porosity",
}


def _network_metrics(case) -> dict:
    """The network metrics the report shows, for bicubic and the model, keyed by label."""
    result: dict = {}
    for key, name in _keys(case).items():
        rows = {(r["group"], r["metric"]): r for r in case.network.rows[key]}
        result[name] = {label: {"prediction": rows[k]["prediction"], "truth": rows[k]["truth"]}
                        for k, label in _NETWORK_ROWS.items() if k in rows}
    result["segmentation"] = case.network.segmentation
    return result


def _classical_section(truth, upscaled: dict, scale: int):
    """The classical upsamplers and the true pore mask on the central quarter."""
    from geosr.report import Figure, Section, display_range, panel_png

    hr = truth.image
    window, pixel = display_range(hr.numpy()), hr.spacing_um[-1]
    extent = hr.extent_um
    zoom = (extent[-2] * 3 / 8, extent[-1] * 3 / 8, extent[-2] / 4, extent[-1] / 4)
    figures = []
    for method, image in upscaled.items():
        src, bar = panel_png(image, window, pixel / 2, zoom)
        figures.append(Figure(src, f"{method} ×{scale}; {bar}"))
    src, bar = panel_png(truth.mask, (0, 1), pixel / 2, zoom)
    figures.append(Figure(src, f"ground-truth pore mask; {bar}"))
    return Section("Classical upsamplers (central quarter)", figures)


def _write_report(path: Path, case, truth, upscaled: dict, scale: int) -> Path:
    """report.html: an introduction, the sections every geosr report has, the classical
    upsamplers, and the phantom and forward-model parameters."""
    from geosr.core.provenance import environment
    from geosr.report import Section, write_html_report
    from geosr.report.api import case_data, case_sections

    degradation = case.lr.metadata["degradation"]
    steps = {step.get("name", f"step {i}"): {k: v for k, v in step.items() if k != "name"}
             for i, step in enumerate(degradation.get("steps", []))}
    params = truth.params
    phantom_summary = {k: v for k, v in params.items()
                       if isinstance(v, (int, float, str)) and k not in ("seed",)}
    text = ("<p>A synthetic dentin section with known ground truth (tubules and sub-micron "
            "lateral branches) was degraded by geosr's forward model into a simulated "
            f"low-resolution confocal acquisition ×{scale} coarser, then upsampled with "
            "classical kernels and with the default light model (FSRCNN), trained on other "
            "dentin phantoms degraded the same way. The model's prediction carries its trust "
            "evidence: the measured data it agrees or disagrees with, what the measurement "
            "cannot see, and a calibrated interval. The same page is written for one's own "
            "data by <code>geosr report</code>.</p>")
    env = environment()
    sections = [Section("About this demo", text=text),
                *case_sections(case, environment=env,
                               extra=[_classical_section(truth, upscaled, scale)]),
                Section("Parameters", tables=[
                    ("phantom", phantom_summary),
                    *[(f"forward model: {name}", dict(values)) for name, values in steps.items()],
                ], text="<p class='note'>Full records: <code>truth/params.json</code>, "
                        "<code>lr.tif.params.json</code>, <code>run.json</code>, "
                        "<code>metrics.json</code>, <code>training/model/model.json</code>.</p>")]
    footer = html.escape(f"geosr demo, scale ×{scale}, phantom seed {params.get('seed')}")
    return write_html_report(path, f"geosr demo: dentin ×{scale}", sections, footer=footer,
                             data={"format": "geosr-report", "version": 1,
                                   "images": [case_data(case)], "environment": env})
