"""Model files: round trips, zip, integrity (altered weights or model.json), safe loading."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from geosr.core.errors import ConfigError, InputError
from geosr.data.normalize import PercentileNormalizer
from geosr.models import build_model, load_model, save_model, zip_model
from geosr.models.files import _doc_hash, _sha256


@pytest.fixture(autouse=True)
def _native_kernels():
    """oneDNN compiles a kernel for every new tensor shape (0.1-2 s each on a busy 2-core
    machine); these tests run many tiny shapes once each, so they use torch's native CPU
    kernels."""
    from geosr.models.summary import native_kernels

    with native_kernels():
        yield


def _model(name="edsr", **kw):
    torch.manual_seed(0)
    kw = kw or {"features": 4, "blocks": 1}
    return build_model(name, dims=2, scale=2, **kw)


@pytest.fixture()
def saved(tmp_path):
    module = _model()
    spec = {"normalization": PercentileNormalizer(p_low=2.0, p_high=99.0), "seed": 7,
            "degradation": {"fwhm_um": [0.4, 0.4]}, "validation": {"psnr": 31.5},
            "data_fingerprint": "abc"}
    return save_model(tmp_path / "model", module, spec), module


def _rewrite(path: Path, edit, rehash: bool = True, weights: bytes | None = None) -> None:
    """Edit model.json (and optionally replace the weights), recomputing the hashes so that
    only the check under test can refuse the file."""
    doc = json.loads((path / "model.json").read_text())
    if weights is not None:
        (path / "weights.safetensors").write_bytes(weights)
        doc["weights"]["sha256"] = _sha256(weights)
    edit(doc)
    if rehash:
        doc["integrity"]["sha256"] = _doc_hash(doc)
    (path / "model.json").write_text(json.dumps(doc))


def test_round_trip_is_bit_identical(saved):
    path, module = saved
    loaded = load_model(path)
    x = torch.rand(2, 1, 9, 7)
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(x), loaded.module(x))
    assert not loaded.module.training
    assert loaded.architecture == "edsr" and loaded.scale == (2, 2) and loaded.dims == 2
    assert loaded.normalizer == PercentileNormalizer(p_low=2.0, p_high=99.0)
    assert loaded.arguments == {"features": 4, "blocks": 1}
    spec = loaded.spec
    assert spec["seed"] == 7 and spec["degradation"] == {"fwhm_um": [0.4, 0.4]}
    assert spec["validation"]["psnr"] == 31.5 and spec["data_fingerprint"] == "abc"
    assert spec["format"] == "geosr-model" and spec["geosr_version"]
    assert spec["environment"]["torch"] and spec["summary"]["halo"]
    assert spec["weights"]["sha256"] == loaded.sha256 == _sha256(
        (path / "weights.safetensors").read_bytes())
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "weights.safetensors"]


def test_zip_round_trip(saved, tmp_path):
    path, module = saved
    archive = zip_model(path)
    assert archive == path.with_name("model.zip")
    assert zip_model(path, tmp_path / "again.zip").read_bytes() == archive.read_bytes()
    direct = save_model(tmp_path / "direct.zip", module)
    x = torch.rand(1, 1, 6, 6)
    module.eval()
    with torch.no_grad():
        for p in (archive, direct):
            assert torch.equal(load_model(p).module(x), module(x))
    # a zip whose single folder holds the two files is read too
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        for f in path.iterdir():
            zf.write(f, f"model/{f.name}")
    assert load_model(nested).sha256 == load_model(path).sha256


def test_altered_weights_are_detected(saved):
    path, _ = saved
    weights = path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"weights\.safetensors.*(corrupted|altered)"):
        load_model(path)


def test_altered_weights_inside_a_zip_are_detected(saved, tmp_path):
    path, _ = saved
    data = bytearray((path / "weights.safetensors").read_bytes())
    data[100] ^= 0xFF
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.json", (path / "model.json").read_bytes())
        zf.writestr("weights.safetensors", bytes(data))
    with pytest.raises(InputError, match="weights.safetensors.*altered"):
        load_model(bad)


def test_edited_model_json_is_detected(saved):
    path, _ = saved
    text = (path / "model.json").read_text().replace('"seed": 7', '"seed": 8')
    (path / "model.json").write_text(text)
    with pytest.raises(InputError, match=r"model\.json.*(corrupted|altered)"):
        load_model(path)


def test_truncated_model_json_is_detected(saved):
    path, _ = saved
    (path / "model.json").write_text((path / "model.json").read_text()[:200])
    with pytest.raises(InputError, match="model.json.*not valid JSON"):
        load_model(path)


def test_unregistered_architecture_is_refused(saved):
    path, _ = saved
    _rewrite(path, lambda d: d.update(architecture="os.system"))
    with pytest.raises(InputError, match="not registered"):
        load_model(path)


@pytest.mark.parametrize("value", [{"__class__": "subprocess.Popen"}, [[1, 2]], [{"a": 1}]])
def test_non_primitive_argument_is_refused(saved, value):
    path, _ = saved
    _rewrite(path, lambda d: d["arguments"].update(features=value))
    with pytest.raises(InputError, match="JSON primitive"):
        load_model(path)


def test_unknown_argument_is_refused(saved):
    path, _ = saved
    _rewrite(path, lambda d: d["arguments"].update(hook="import os"))
    with pytest.raises(InputError, match="unknown argument"):
        load_model(path)


class _Payload:
    """Unpickling this creates a marker file: the test fails if it ever happens."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_renamed_as_safetensors_is_refused_without_unpickling(saved, tmp_path):
    path, module = saved
    marker = tmp_path / "unpickled"
    payload = pickle.dumps({"state": module.state_dict(), "x": _Payload(marker)})
    _rewrite(path, lambda d: None, weights=payload)
    with pytest.raises(InputError, match="pickle.*never unpickles"):
        load_model(path)
    torch.save(module.state_dict(), tmp_path / "sd.pt")   # torch.save's zip format
    _rewrite(path, lambda d: None, weights=(tmp_path / "sd.pt").read_bytes())
    with pytest.raises(InputError, match="not safetensors"):
        load_model(path)
    assert not marker.exists()


def test_weights_of_another_architecture_are_refused(saved, tmp_path):
    path, _ = saved
    other = save_model(tmp_path / "other", _model("edsr", features=6, blocks=1))
    _rewrite(path, lambda d: None, weights=(other / "weights.safetensors").read_bytes())
    with pytest.raises(InputError, match="do not fit architecture"):
        load_model(path)


@pytest.mark.parametrize("missing", ["model.json", "weights.safetensors"])
def test_missing_file_is_named(saved, missing):
    path, _ = saved
    (path / missing).unlink()
    with pytest.raises(InputError, match=missing.replace(".", r"\.")):
        load_model(path)


def test_not_a_model(tmp_path):
    with pytest.raises(InputError, match="model not found"):
        load_model(tmp_path / "nothing")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(InputError, match="neither a model folder"):
        load_model(tmp_path / "file.txt")


def test_save_refuses_to_clobber_other_folders(tmp_path):
    module = _model()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="other files"):
        save_model(tmp_path / "results", module)
    assert (tmp_path / "results" / "notes.txt").read_text() == "keep me"
    first = save_model(tmp_path / "m", module, {"seed": 1})
    save_model(first, module, {"seed": 2})     # replacing a model is fine
    assert load_model(first).spec["seed"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_checks_the_spec(tmp_path):
    module = _model()
    with pytest.raises(ConfigError, match="scale"):
        save_model(tmp_path / "a", module, {"scale": 4})
    with pytest.raises(ConfigError, match="reserved"):
        save_model(tmp_path / "b", module, {"weights": "x"})
    with pytest.raises(ConfigError, match="architecture"):
        save_model(tmp_path / "c", torch.nn.Conv2d(1, 1, 3))
    assert not any(tmp_path.iterdir())
    save_model(tmp_path / "d", module, {"scale": [2, 2], "dims": 2})
