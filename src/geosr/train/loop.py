"""The paired training loop: data → patches → model → loss → Adam, with validation, early
stopping, CSV/TensorBoard logs, resumable checkpoints and the final model folder.

Run layout (``out``)::

    out/config.yaml            the resolved config (a resume must match it)
    out/log.csv                step, loss, lr, val_loss, val_psnr_norm_db, seconds
    out/checkpoints/step-NNNNNNNN/{state.safetensors,state.json}
    out/tensorboard/           (logging.tensorboard: true)
    out/model/                 weights.safetensors + model.json (geosr.models.save_model)
    out/summary.json           validation numbers and paths

Determinism: every random stream derives from ``config.seed`` — torch's generator (model
initialisation), numpy Generators for the data (phantoms, degradation draws) and the patch
sampler. ``torch.use_deterministic_algorithms(True)`` is on during training (CPU: bit-identical
weights for the same config, seed, torch build and thread count; set ``train.threads``).

Example
-------
>>> from geosr.train import train
>>> model_dir = train(data="dentin", scale=4, steps=200, out="runs/x4")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
import yaml

from geosr.core.errors import ConfigError, DependencyError, InputError
from geosr.core.files import atomic_path, write_json
from geosr.core.seeding import seed_everything
from geosr.data.augment import Augmenter
from geosr.data.normalize import PercentileNormalizer
from geosr.data.sampling import PatchSampler
from geosr.losses import build_loss
from geosr.train.checkpoint import (latest_checkpoint, load_checkpoint, optimizer_from_flat,
                                    optimizer_to_flat, rng_state, save_checkpoint,
                                    set_rng_state)
from geosr.train.config import TrainConfig
from geosr.train.distributed import DistContext
from geosr.train.overrides import config_from_any
from geosr.train.log import CsvLog, TensorBoardLog
from geosr.train.schedule import Schedule
from geosr.train.trainers import TRAINERS, trainer_class
from geosr.train.validate import (CONVENTION, bicubic_baseline, default_max_size, evaluate,
                                  prepare_validation)

__all__ = ["train", "Trainer", "DEFAULT_OUT", "TRAINERS", "trainer_class"]

DEFAULT_OUT = Path("runs/train")
#: Config sections a resumed run may change.
_MAY_CHANGE = ("out", "logging")


def train(config: TrainConfig | dict | str | Path | None = None, *, resume: bool = False,
          show_progress: Optional[bool] = None, **overrides: Any) -> Path:
    """Train a super-resolution model; returns the model folder (``<out>/model``).

    Parameters
    ----------
    config:
        A :class:`TrainConfig`, a mapping, a YAML file, or None (keywords only).
    resume:
        Continue from the newest checkpoint in ``<out>/checkpoints`` (from scratch if there is
        none). Without it, an ``out`` folder that already holds a run is an error.
    show_progress:
        Force the progress bar on or off (default: ``logging.progress``).
    **overrides:
        Config sections (``data=``, ``model=``, ``scale=``, ``out=``...), shortcuts
        (``steps``, ``lr``, ``batch_size``, ``device``, ``threads``, ``patience``...) or dotted
        paths (``**{"train.lr": 1e-3}``). ``data`` may be a phantom kind (``"dentin"``), a
        folder with ``lr/`` and ``hr/`` or a folder/file of HR images; ``model`` a name.

    Example
    -------
    >>> train(data="dentin", scale=4, model="fsrcnn", steps=500, out="runs/d4")  # doctest: +SKIP
    PosixPath('runs/d4/model')
    """
    cfg = config_from_any(config, **overrides)
    return trainer_class(cfg.algorithm)(cfg, resume=resume, show_progress=show_progress).run()


@contextlib.contextmanager
def _torch_settings(threads: Optional[int], deterministic: bool, cuda: bool) -> Iterator[None]:
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        if threads:
            torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=cuda)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)


def _plain(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


class Trainer:
    """One training run (see :func:`train`)."""

    def __init__(self, cfg: TrainConfig, *, resume: bool = False,
                 show_progress: Optional[bool] = None):
        self.cfg = cfg
        self.resume = resume
        self.out = Path(cfg.out) if cfg.out is not None else DEFAULT_OUT
        self.show_progress = cfg.logging.progress if show_progress is None else show_progress
        self.dist = DistContext()           # one process unless run() finds torchrun's

    # ------------------------------------------------------------------ setup
    def _check_out(self) -> Optional[Path]:
        """The checkpoint to resume from (None: a fresh start)."""
        ckpt_dir = self.out / "checkpoints"
        has_run = any((self.out / n).exists() for n in ("config.yaml", "checkpoints", "model"))
        if not self.resume:
            if has_run:
                raise InputError("this folder already holds a training run", where=str(self.out),
                                 hint="resume it (--resume / resume=True) or choose another "
                                      "--out")
            return None
        if ckpt_dir.is_dir():  # half-written checkpoints of a killed run
            for leftover in ckpt_dir.glob(".step-*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)
        checkpoint = latest_checkpoint(ckpt_dir)
        saved = self.out / "config.yaml"
        if checkpoint is not None and saved.is_file():
            old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
            new = _plain(self.cfg.to_dict())
            diffs = _differences({k: v for k, v in old.items() if k not in _MAY_CHANGE},
                                 {k: v for k, v in new.items() if k not in _MAY_CHANGE})
            if diffs:
                raise ConfigError("the config differs from the run being resumed in "
                                  + ", ".join(diffs[:10]), where=str(saved),
                                  hint="resume with the same config, or train into another "
                                       "--out")
        return checkpoint

    def _build(self) -> None:
        cfg = self.cfg
        from geosr.models import resolve_device

        self.device = resolve_device(cfg.train.device)
        self.normalizer = PercentileNormalizer(cfg.normalization.p_low,
                                               cfg.normalization.p_high)
        self.data = cfg.data.build(scale=cfg.scale, seed=cfg.seed, dims=cfg.dims,
                                   normalizer=self.normalizer,
                                   target=cfg.normalization.target,
                                   show_progress=self.show_progress)
        dims = self.dims = self.data.dims
        hr_patch = cfg.patch.per_axis(dims)
        if len(hr_patch) != dims:
            raise ConfigError(f"{len(hr_patch)} patch sizes for {dims}D data", where="patch.size",
                              hint=f"give one value or {dims}")
        self.lr_patch = tuple(p // cfg.scale for p in hr_patch)
        # the most anisotropic training image decides which symmetries are allowed
        spacing = max((p.spacing_um for p in self.data.train),
                      key=lambda sp: max(sp) / min(sp))
        self.augmenter = Augmenter(dims, spacing, self.lr_patch, flips=cfg.augment.flips,
                                   rot90=cfg.augment.rot90,
                                   in_plane_only=cfg.augment.in_plane_only)
        self.sampler = PatchSampler(
            self.data.train, self.lr_patch, cfg.scale,
            foreground_bias=cfg.patch.foreground_bias,
            foreground_percentile=cfg.patch.foreground_percentile,
            augmenter=self.augmenter, seed=np.random.default_rng([cfg.seed, 1]))
        max_size = cfg.validation.max_size or default_max_size(dims)
        self.val_images = prepare_validation(self.data.val, cfg.scale, max_size)
        self.val_max_size = max_size
        self._build_model_and_optimiser(dims, cfg.scale)

    def _build_model_and_optimiser(self, dims: int, scale: Any) -> None:
        """The model (seeded), the loss, Adam and the learning-rate schedule, then
        :meth:`_build_extra`. ``scale``: an integer or one factor per spatial axis."""
        from geosr.models import build_model

        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        try:
            self.model = build_model(cfg.model.name, dims=dims, scale=scale,
                                     in_channels=self.data.channels,
                                     **cfg.model.arguments).to(self.device)
        except ConfigError as err:
            raise ConfigError(err.message, where=f"model.arguments.{err.where}"
                              if err.where and err.where != "model" else "model",
                              hint=err.hint) from None
        self.loss_fn = build_loss([{"name": t["name"], "weight": t["weight"],
                                    "start": t.get("start", 0), "warmup": t.get("warmup", 0),
                                    **t.get("arguments", {})} for t in cfg.loss_terms()])
        self.loss_fn = self.loss_fn.to(self.device)
        t = cfg.train
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr,
                                          betas=tuple(t.betas), weight_decay=t.weight_decay)
        self.schedule = Schedule(t.schedule, lr=t.lr, steps=t.steps, min_lr=t.min_lr,
                                 step_size=t.step_size, gamma=t.gamma)
        self._build_extra()

    # ------------------------------------------------------------------ state
    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        opt_tensors, opt_info = optimizer_to_flat(self.optimizer)
        rng_tensors, rng_info = rng_state(cuda=self.device.type == "cuda")
        tensors.update(opt_tensors)
        tensors.update(rng_tensors)
        info = {
            "step": self.step, "finished": self.finished, "stopped_early": self.stopped_early,
            "optimizer": opt_info, "schedule": {**self.schedule.describe(), "t": self.step},
            "rng": rng_info, "sampler": self.sampler.state_dict(),
            "best": self.best, "bad_evaluations": self.bad, "history": self.history,
            "first": self.first, "baseline": self.baseline,
            "loss_sum": self.loss_sum, "loss_count": self.loss_count,
            "elapsed": self._elapsed(), "data_fingerprint": self.data.fingerprint,
        }
        extra_tensors, extra_info = self._extra_state()
        tensors.update(extra_tensors)
        info["extra"] = extra_info
        return tensors, info

    def _restore(self, checkpoint: Path) -> None:
        tensors, info = load_checkpoint(checkpoint)
        if info.get("data_fingerprint") != self.data.fingerprint:
            raise InputError("the training data changed since this checkpoint was written "
                             f"(fingerprint {info.get('data_fingerprint')} vs "
                             f"{self.data.fingerprint})", where=str(checkpoint),
                             hint="resume with the same data, or train into another --out")
        model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_sd)
        best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
        self.best_weights = best or None
        optimizer_from_flat(self.optimizer, tensors, info["optimizer"])
        set_rng_state(tensors, info["rng"])
        self.sampler.load_state_dict(info["sampler"])
        self.step = int(info["step"])
        self.finished = bool(info.get("finished", False))
        self.stopped_early = bool(info.get("stopped_early", False))
        self.best = info.get("best")
        self.bad = int(info.get("bad_evaluations", 0))
        self.history = list(info.get("history", []))
        self.first = info.get("first")
        self.baseline = info.get("baseline")
        self.loss_sum = float(info.get("loss_sum", 0.0))
        self.loss_count = int(info.get("loss_count", 0))
        self.elapsed_before = float(info.get("elapsed", 0.0))
        self._restore_extra(tensors, info.get("extra", {}))

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.perf_counter() - self.t0)

    # ------------------------------------------------------------- validation
    def _better(self, value: float, best: float) -> bool:
        delta = self.cfg.validation.min_delta
        if self.cfg.validation.metric in ("psnr", "cldice"):   # higher is better
            return value > best + delta
        return value < best - delta

    def _validate(self) -> dict[str, Any]:
        result = evaluate(self.model, self.val_images, self.loss_fn, self.device,
                          metric=self.cfg.validation.metric)
        entry = {"step": self.step, "psnr": result["psnr"], "loss": result["loss"],
                 **{k: result[k] for k in ("cldice", "betti_error") if k in result}}
        self.history.append(entry)
        if self.first is None:
            self.first = {**entry, "per_image": result["per_image"]}
        metric = entry[self.cfg.validation.metric]
        if self.best is None or self._better(metric, self.best["metric"]):
            self.best = {**entry, "metric": metric, "per_image": result["per_image"]}
            self.best_weights = {k: v.detach().clone()
                                 for k, v in self.model.state_dict().items()}
            self.bad = 0
        else:
            self.bad += 1
        self.last_val = {**entry, "per_image": result["per_image"]}
        return entry

    # -------------------------------------------------------------------- run
    def run(self) -> Path:
        cfg = self.cfg
        self.dist = DistContext.from_env()
        if self.dist.world > 1 and type(self)._train_step is not Trainer._train_step:
            raise ConfigError(f"torchrun (multi-process) training supports the paired "
                              f"trainer, not {cfg.algorithm!r}", where="algorithm",
                              hint="run this algorithm in one process")
        checkpoint = self._check_out()
        if cfg.logging.tensorboard:
            _require_tensorboard()
        cuda = cfg.train.device.startswith("cuda") or (
            cfg.train.device == "auto" and torch.cuda.is_available())
        if cuda and cfg.train.deterministic:
            # cuBLAS needs this for deterministic matrix products (set before CUDA starts)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
        self.dist.start(cuda)
        self.dist.barrier()     # every rank has checked the folder before rank 0 writes
        with _torch_settings(cfg.train.threads, cfg.train.deterministic, cuda):
            seed_everything(cfg.seed)
            self._build()
            self.dist.broadcast_parameters(self.model)
            self.step, self.finished, self.stopped_early = 0, False, False
            self.best, self.best_weights, self.bad = None, None, 0
            self.history, self.first, self.baseline, self.last_val = [], None, None, None
            self.loss_sum, self.loss_count, self.elapsed_before = 0.0, 0, 0.0
            self.t0 = time.perf_counter()
            if checkpoint is not None:
                self._restore(checkpoint)
            main = self.dist.is_main      # under torchrun only rank 0 writes
            if main:
                self.out.mkdir(parents=True, exist_ok=True)
                _write_yaml(self.out / "config.yaml", cfg.to_dict())
            csv_log = (CsvLog(self.out / "log.csv",
                              resume_step=self.step if checkpoint is not None else None)
                       if cfg.logging.csv and main else None)
            tb_log = (TensorBoardLog(self.out / "tensorboard",
                                     purge_step=self.step + 1 if checkpoint else None)
                      if cfg.logging.tensorboard and main else None)
            try:
                self._loop(csv_log, tb_log)
            finally:
                for log in (csv_log, tb_log):
                    if log is not None:
                        log.close()
            model_dir = self._finish() if main else self.out / "model"
            self.dist.stop()       # waits for rank 0's model before the others return
            return model_dir

    def _log(self, logs: tuple, row: dict[str, Any]) -> None:
        for log in logs:
            if log is not None:
                log.write(row)

    def _loop(self, csv_log: Optional[CsvLog], tb_log: Optional[TensorBoardLog]) -> None:
        cfg = self.cfg
        steps, every_val = cfg.train.steps, cfg.validation.every
        if self.baseline is None:
            self.baseline = {k: v for k, v in bicubic_baseline(
                self.val_images, cfg.scale, self.loss_fn).items()}
        if self.step == 0 and not self.history:
            entry = self._validate()
            self._log((csv_log, tb_log), {"step": 0, "lr": self.schedule(0),
                                          "val_loss": entry["loss"],
                                          "val_psnr_norm_db": entry["psnr"],
                                          "seconds": self._elapsed()})
        if self.finished:
            return
        self.model.train()
        bar_cm = _bar(self.show_progress and self.dist.is_main, steps, self.step)
        shard = self.dist.shard(cfg.train.batch_size)
        with bar_cm as bar:
            while self.step < steps:
                lr = self.schedule(self.step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                x, y, _ = self.sampler.sample(cfg.train.batch_size)   # the global batch
                x = torch.from_numpy(x[shard]).to(self.device)
                y = torch.from_numpy(y[shard]).to(self.device)
                value = self._train_step(x, y, lr)
                self.step += 1
                self.loss_sum += value
                self.loss_count += 1
                entry = None
                if self.step % every_val == 0 or self.step == steps:
                    entry = self._validate()
                    # patience running out on the last step is not an early stop
                    if (cfg.validation.patience and self.bad >= cfg.validation.patience
                            and self.step < steps):
                        self.stopped_early = True
                if entry is not None or self.step % cfg.logging.every == 0 or \
                        self.step == steps:
                    row = {"step": self.step,
                           "loss": self.loss_sum / max(self.loss_count, 1), "lr": lr,
                           "seconds": self._elapsed()}
                    if entry is not None:
                        row.update(val_loss=entry["loss"], val_psnr_norm_db=entry["psnr"])
                    self._log((csv_log, tb_log), row)
                    self.loss_sum, self.loss_count = 0.0, 0
                done = self.stopped_early or self.step == steps
                if done:
                    self.finished = True
                if (done or self.step % cfg.train.checkpoint_every == 0) and \
                        self.dist.is_main:
                    tensors, info = self._state()
                    save_checkpoint(self.out / "checkpoints", self.step, tensors, info,
                                    keep=cfg.train.keep_checkpoints)
                if bar is not None:
                    best = self.best["psnr"] if self.best else float("nan")
                    bar[0].update(bar[1], advance=1, description=(
                        f"training loss {value:.4g} best val PSNR {best:.2f} dB"))
                if done:
                    break

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
        """One optimisation step on a batch (LR ``x``, HR ``y``, normalised); returns the
        training loss. Subclasses (adversarial, unpaired trainers) override this, together
        with :meth:`_build_extra`, :meth:`_extra_state` and :meth:`_restore_extra`."""
        cfg = self.cfg
        self.optimizer.zero_grad(set_to_none=True)
        if hasattr(self.loss_fn, "set_step"):    # loss-term warm-up
            self.loss_fn.set_step(self.step)
        if getattr(self.model, "has_aux", False):
            # geometry-informed model: SR image + segmentation logits of the shared trunk,
            # the auxiliary loss against the HR-derived truth mask
            pred, aux = self.model.forward_with_aux(x)
            loss = self.loss_fn(pred, y) + self.model.aux_weight * self.model.aux_loss(
                aux, y, pred=pred)
        else:
            loss = self.loss_fn(self.model(x), y)
        value = _finite(float(loss.detach()), self.step)
        loss.backward()
        self.dist.average_gradients(self.model)   # torchrun: mean over the ranks
        value = self.dist.mean(value)             # the global batch's loss, for the log
        if cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
        self.optimizer.step()
        return value

    def _build_extra(self) -> None:
        """Hook: build what a subclass needs beyond the model, loss and optimiser."""

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Hook: extra tensors (keys must not start with ``model.``/``best.``/``optim.``/
        ``rng.``) and JSON info a subclass needs in every checkpoint."""
        return {}, {}

    def _restore_extra(self, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        """Hook: restore what :meth:`_extra_state` saved."""

    def _model_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Hook: adjust the ``model.json`` spec before saving (e.g. a per-axis scale)."""
        return spec

    # ------------------------------------------------------------------ finish
    def _finish(self) -> Path:
        from geosr.models import save_model

        cfg = self.cfg
        keep_best = cfg.validation.keep == "best" and self.best_weights is not None
        final_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
        if keep_best:
            self.model.load_state_dict(self.best_weights)
        last = self.history[-1] if self.history else None
        below = _below_baseline(self.best if keep_best else last, self.baseline)
        validation = {
            "metric": cfg.validation.metric, "convention": CONVENTION,
            "region": f"whole held-out images, centre-cropped to <= {self.val_max_size} LR "
                      "pixels per axis",
            "images": [v.name for v in self.val_images],
            "bicubic": self.baseline, "first": self.first,
            "best": self.best, "last": last, "best_step": self.best["step"] if self.best else None,
            "kept": "best" if keep_best else "last",
            "history": self.history, "stopped_early": self.stopped_early,
            "steps_done": self.step, "below_baseline": below,
        }
        normalization = {**self.normalizer.to_dict()}
        training = {
            "normalization_target": cfg.normalization.target,
            "patch_hr": list(cfg.patch.per_axis(self.dims)), "patch_lr": list(self.lr_patch),
            "augmentation": self.augmenter.describe(),
            "loss": cfg.loss_terms(), "schedule": self.schedule.describe(),
            "steps": self.step, "seconds": self._elapsed(), "device": str(self.device),
            "threads": torch.get_num_threads(), "data": self.data.description,
            "foreground_fraction": float(np.mean(self.sampler.foreground_fraction)),
        }
        spec = {
            "architecture": cfg.model.name,
            "arguments": dict(getattr(self.model, "geosr_config", {}).get(
                "arguments", cfg.model.arguments)),
            "scale": cfg.scale, "dims": self.dims,
            "in_channels": self.data.channels, "out_channels": self.data.channels,
            "normalization": normalization,
            "degradation": self.data.degradation,
            "data_fingerprint": self.data.fingerprint,
            "config": cfg.to_dict(), "seed": cfg.seed,
            "validation": validation, "training": training,
        }
        path = save_model(self.out / "model", self.model, self._model_spec(spec))
        if keep_best:
            self.model.load_state_dict(final_weights)
        write_json(self.out / "summary.json", {
            "model": str(path), "steps_done": self.step, "stopped_early": self.stopped_early,
            "best_step": validation["best_step"], "metric": cfg.validation.metric,
            "val_psnr_norm_db": {
                "bicubic": self.baseline["psnr"] if self.baseline else None,
                "first": self.first["psnr"] if self.first else None,
                "best": self.best["psnr"] if self.best else None,
                "last": last["psnr"] if last else None},
            "below_baseline": below,
            "convention": CONVENTION, "data_fingerprint": self.data.fingerprint})
        _warn_below_baseline(below, path)
        return Path(path)


def _below_baseline(kept: dict[str, Any] | None, baseline: dict[str, Any] | None
                    ) -> dict[str, Any] | None:
    """The kept model's validation PSNR against the bicubic baseline
    (:func:`geosr.models.quality.baseline_record`)."""
    from geosr.models.quality import baseline_record

    return baseline_record(kept.get("psnr") if kept else None,
                           baseline.get("psnr") if baseline else None)


def _warn_below_baseline(record: dict[str, Any] | None, path: Any) -> None:
    """Warn (:class:`geosr.models.quality.BelowBaselineWarning`) when the kept model lost."""
    import warnings

    from geosr.models.quality import BelowBaselineWarning, baseline_message

    message = baseline_message({"below_baseline": record})
    if message:
        warnings.warn(f"{path}: {message}", BelowBaselineWarning, stacklevel=3)


def _finite(value: float, step: int) -> float:
    """``value`` if finite; else the ConfigError that tells the user what to change."""
    if not math.isfinite(value):
        raise ConfigError(f"the training loss became {value} at step {step + 1}",
                          where="train.lr", hint="lower the learning rate or set "
                                                 "train.grad_clip")
    return value


def _require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise DependencyError("TensorBoard logging needs the 'tensorboard' package",
                              where="logging.tensorboard",
                              hint="pip install tensorboard, or set logging.tensorboard: "
                                   "false") from None


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(_plain(data), sort_keys=False), encoding="utf-8")


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return out
    return [] if old == new else [prefix or "(config)"]


@contextlib.contextmanager
def _bar(show: bool, total: int, completed: int):
    if not show:
        yield None
        return
    from geosr.core.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("training", total=total, completed=completed)
        yield (bar, task)
