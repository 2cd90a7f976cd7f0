"""Tests of geosr.io: round trips per format, lazy Zarr, foreign files, real data, bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from geosr.core.errors import ConfigError, GeosrError, InputError
from geosr.core.image import Image
from geosr.io import load, save, supported_formats

# ----------------------------------------------------------------------------- helpers
SHAPES = {"YX": (20, 24), "ZYX": (5, 20, 24), "CYX": (3, 20, 24), "CZYX": (2, 5, 20, 24)}
SPACING = {"YX": (0.13, 0.1), "ZYX": (0.5, 0.1, 0.1), "CYX": (0.13, 0.1),
           "CZYX": (0.5, 0.1, 0.1)}
META = {"source": "unit test", "scale": 4, "nested": {"sigma_um": [0.2, 0.3]}}


def _values(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        values = rng.normal(0, 1000, shape).astype(np.float32)
        values.flat[0], values.flat[1] = -3.0e38, 1.25e-30  # extremes survive
        return values
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    values.flat[0], values.flat[1] = info.min, info.max
    return values


def _image(axes: str, dtype: str, unit: str = "um", **kw) -> Image:
    n = len(axes.replace("C", ""))
    origin = kw.pop("origin", tuple(1.5 * (i + 1) for i in range(n)))
    return Image(_values(SHAPES[axes], dtype), axes, spacing=kw.pop("spacing", SPACING[axes]),
                 unit=unit, origin=origin, metadata=kw.pop("metadata", META))


def _assert_same(back: Image, img: Image, *, metadata: bool = True) -> None:
    assert back.axes == img.axes
    assert back.shape == img.shape
    assert back.dtype == img.dtype
    assert np.array_equal(back.numpy(), img.numpy())
    assert back.spacing == pytest.approx(img.spacing, rel=1e-6)
    assert back.unit == img.unit
    assert back.origin == pytest.approx(img.origin, rel=1e-6)
    if metadata:
        assert back.metadata == img.metadata


FORMATS_ALL = [".tif", ".ome.tif", ".nrrd", ".zarr", ".npy"]


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("ext", FORMATS_ALL)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
@pytest.mark.parametrize("axes", ["YX", "ZYX", "CYX", "CZYX"])
def test_round_trip_every_format(tmp_path, ext, dtype, axes):
    img = _image(axes, dtype)
    out = save(img, tmp_path / "sub" / f"img{ext}")
    assert out == tmp_path / "sub" / f"img{ext}" and out.exists()
    _assert_same(load(out), img)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("axes,channels", [("YX", 0), ("CYX", 3), ("CYX", 4)])
def test_round_trip_png(tmp_path, dtype, axes, channels):
    shape = (channels, 20, 24) if channels else (20, 24)
    img = Image(_values(shape, dtype), axes, spacing=SPACING[axes], origin=(2.0, -1.0),
                metadata=META)
    out = save(img, tmp_path / "img.png")
    assert (tmp_path / "img.png.json").is_file()
    _assert_same(load(out), img)


@pytest.mark.parametrize("ext", FORMATS_ALL + [".png"])
def test_round_trip_nanometres_and_single_channel(tmp_path, ext):
    """Unit nm is kept as nm (not converted), a 1-channel axis and Z=1 survive."""
    axes, shape = ("CYX", (1, 16, 12)) if ext == ".png" else ("CZYX", (1, 1, 16, 12))
    if ext == ".png":  # PNG takes YX or 3/4 channels only
        axes, shape = "YX", (16, 12)
    n = len(axes.replace("C", ""))
    img = Image(_values(shape, "uint16", seed=3), axes, spacing=(250.0, 32.5, 32.5)[-n:],
                unit="nm", origin=(100.0, -40.0, 7.25)[-n:], metadata={"k": "v"})
    back = load(save(img, tmp_path / f"nm{ext}"))
    _assert_same(back, img)
    assert back.spacing_um == pytest.approx((0.25, 0.0325, 0.0325)[-n:], rel=1e-6)


@pytest.mark.parametrize("ext", [".tif", ".ome.tif", ".nrrd", ".zarr"])
def test_awkward_spacing_is_exact_and_rounded(tmp_path, ext):
    img = Image(np.arange(60, dtype=np.uint8).reshape(3, 4, 5), "ZYX",
                spacing=(0.123456789, 0.3, 1 / 3))
    back = load(save(img, tmp_path / f"a{ext}"))
    assert back.spacing == pytest.approx((0.123456789, 0.3, 1 / 3), rel=1e-9)


def test_pixel_unit_round_trip(tmp_path):
    img = Image(np.ones((4, 5), np.uint8), "YX", unit="pixel")
    for ext in FORMATS_ALL + [".png"]:
        back = load(save(img, tmp_path / f"p{ext}"))
        assert back.unit == "pixel" and back.spacing == (1.0, 1.0), ext


def test_save_plain_array_and_dtype_conversions(tmp_path):
    back = load(save(np.arange(24, dtype=np.uint16).reshape(2, 3, 4), tmp_path / "a.tif"))
    assert back.axes == "ZYX" and back.spacing == (1.0, 1.0, 1.0)
    assert back.numpy()[1, 2, 3] == 23
    mask = np.zeros((6, 7), bool)
    mask[2:4, 3] = True
    back = load(save(mask, tmp_path / "m.nrrd"))
    assert back.dtype == np.uint8 and back.axes == "YX"
    assert np.array_equal(back.numpy(), mask.astype(np.uint8))
    f64 = np.linspace(-1e30, 1e30, 12).reshape(3, 4)
    back = load(save(f64, tmp_path / "f.zarr"))
    assert back.dtype == np.float32
    assert np.allclose(back.numpy(), f64, rtol=1e-7)


@pytest.mark.parametrize("ext", [".tif", ".zarr", ".nrrd", ".npy"])
def test_float64_beyond_float32_range_is_refused(tmp_path, ext):
    with pytest.raises(InputError, match="float32"):
        save(np.array([[1e300, 0.0], [1.0, 2.0]]), tmp_path / f"big{ext}")
    assert sorted(os.listdir(tmp_path)) == []  # no file, no temporary left


def test_nan_and_inf_load_without_error(tmp_path):
    values = np.ones((4, 5), np.float32)
    values[1, 2], values[3, 3] = np.nan, np.inf
    for ext in (".tif", ".zarr", ".nrrd", ".npy"):
        back = load(save(values, tmp_path / f"nan{ext}"))
        assert np.isnan(back.numpy()[1, 2]) and np.isposinf(back.numpy()[3, 3])
        with pytest.raises(InputError, match="NaN or infinite"):
            back.check_finite()


def test_supported_formats_lists_extensions():
    formats = supported_formats()
    assert {".tif", ".tiff", ".ome.tif", ".png", ".npy", ".nrrd", ".zarr"} <= set(formats)
    assert all(isinstance(v, str) and v for v in formats.values())


# ------------------------------------------------------------------ zarr specifics
def test_lazy_zarr_reads_regions_and_has_chunks(tmp_path):
    import zarr

    values = _values((100, 130, 70), "uint16", seed=1)
    img = Image(values, "ZYX", spacing=(0.5, 0.1, 0.1), origin=(1.0, 2.0, 3.0))
    out = save(img, tmp_path / "vol.zarr")
    assert out.is_dir() and (out / "zarr.json").is_file()
    lazy = load(out, lazy=True)
    assert not isinstance(lazy.data, np.ndarray)
    assert isinstance(lazy.data, zarr.Array)
    assert lazy.data.chunks == (64, 64, 64)
    assert lazy.shape == (100, 130, 70) and lazy.spacing == (0.5, 0.1, 0.1)
    assert np.array_equal(lazy.data[10:20, 64:100, 5], values[10:20, 64:100, 5])
    assert np.array_equal(lazy.numpy(), values)
    assert isinstance(load(out).data, np.ndarray)


def test_zarr_chunks_2d_and_channels(tmp_path):
    import zarr

    save(Image(np.zeros((300, 40), np.uint8), "YX"), tmp_path / "a.zarr")
    assert zarr.open_array(tmp_path / "a.zarr" / "0", mode="r").chunks == (256, 40)
    save(Image(np.zeros((2, 70, 65, 10), np.float32), "CZYX"), tmp_path / "b.zarr")
    arr = load(tmp_path / "b.zarr", lazy=True).data
    assert arr.chunks == (1, 64, 64, 10)
    assert arr.metadata.dimension_names == ("c", "z", "y", "x")


def test_zarr_ome_ngff_attributes(tmp_path):
    import zarr

    img = Image(np.zeros((2, 3, 4, 5), np.uint8), "CZYX", spacing=(0.5, 0.1, 0.2), unit="um",
                origin=(1.0, 2.0, 3.0), metadata={"a": 1})
    save(img, tmp_path / "x.ome.zarr")
    attrs = zarr.open_group(tmp_path / "x.ome.zarr", mode="r").attrs.asdict()
    ome = attrs["ome"]
    assert ome["version"] == "0.5"
    ms = ome["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "z", "y", "x"]
    assert ms["axes"][0]["type"] == "channel"
    assert {a.get("unit") for a in ms["axes"][1:]} == {"micrometer"}
    ds = ms["datasets"][0]
    assert ds["path"] == "0"
    assert ds["coordinateTransformations"][0] == {"type": "scale", "scale": [1.0, 0.5, 0.1, 0.2]}
    assert ds["coordinateTransformations"][1] == {"type": "translation",
                                                  "translation": [0.0, 1.0, 2.0, 3.0]}
    assert attrs["geosr"]["axes"] == "CZYX" and attrs["geosr"]["metadata"] == {"a": 1}


def test_bare_zarr_array_and_foreign_ngff(tmp_path):
    import zarr

    values = _values((6, 7, 8), "uint8", seed=2)
    arr = zarr.create_array(store=str(tmp_path / "bare.zarr"), shape=values.shape,
                            dtype=values.dtype, chunks=(3, 7, 8), zarr_format=3)
    arr[...] = values
    img = load(tmp_path / "bare.zarr")
    assert img.axes == "ZYX" and img.unit == "pixel" and np.array_equal(img.numpy(), values)
    named = zarr.create_array(store=str(tmp_path / "named.zarr"), shape=values.shape,
                              dtype=values.dtype, dimension_names=["c", "y", "x"])
    named[...] = values
    assert load(tmp_path / "named.zarr").axes == "CYX"

    # OME-NGFF with t, c = 1 and nanometre units, stored (t, c, z, y, x), read lazily
    group = zarr.open_group(str(tmp_path / "ngff.zarr"), mode="w", zarr_format=3)
    five = group.create_array("s0", shape=(1, 1) + values.shape, dtype="uint8",
                              chunks=(1, 1, 3, 7, 8))
    five[...] = values[None, None]
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}] + [
        {"name": n, "type": "space", "unit": "nanometer"} for n in "zyx"]
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": [
        {"path": "s0", "coordinateTransformations": [
            {"type": "scale", "scale": [1, 1, 200, 50, 50]},
            {"type": "translation", "translation": [0, 0, 10, 20, 30]}]}]}]}
    lazy = load(tmp_path / "ngff.zarr", lazy=True)
    assert lazy.axes == "ZYX" and lazy.unit == "nm" and lazy.shape == values.shape
    assert lazy.spacing == (200.0, 50.0, 50.0) and lazy.origin == (10.0, 20.0, 30.0)
    assert not isinstance(lazy.data, np.ndarray)
    assert np.array_equal(lazy.data[2:5, 1, ::2], values[2:5, 1, ::2])
    assert np.array_equal(lazy.numpy(), values)


def test_save_lazy_image_to_other_formats(tmp_path):
    values = _values((70, 9, 10), "uint16", seed=5)
    save(Image(values, "ZYX", spacing=(3.0, 1.0, 1.0)), tmp_path / "src.zarr")
    lazy = load(tmp_path / "src.zarr", lazy=True)
    for ext in (".zarr", ".tif", ".nrrd"):
        back = load(save(lazy, tmp_path / f"copy{ext}"))
        assert np.array_equal(back.numpy(), values) and back.spacing == (3.0, 1.0, 1.0), ext


# ------------------------------------------------------------------ foreign files
def test_foreign_imagej_hyperstack_zcyx(tmp_path):
    import tifffile

    values = _values((4, 2, 10, 12), "uint16")  # ImageJ order Z, C, Y, X
    tifffile.imwrite(tmp_path / "ij.tif", values, imagej=True, resolution=(1 / 0.2, 1 / 0.25),
                     metadata={"axes": "ZCYX", "spacing": 0.8, "unit": "\\u00B5m"})
    img = load(tmp_path / "ij.tif")
    assert img.axes == "CZYX" and img.shape == (2, 4, 10, 12)
    assert np.array_equal(img.numpy(), values.transpose(1, 0, 2, 3))
    assert img.spacing == pytest.approx((0.8, 0.25, 0.2), rel=1e-6)
    assert img.unit == "um"


def test_foreign_ome_tiff_and_plain_tiff(tmp_path):
    import tifffile

    values = _values((3, 5, 10, 12), "uint8")
    tifffile.imwrite(tmp_path / "o.ome.tif", values, ome=True, photometric="minisblack",
                     metadata={"axes": "ZCYX", "PhysicalSizeX": 65.0, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeY": 65.0, "PhysicalSizeYUnit": "nm",
                               "PhysicalSizeZ": 0.3, "PhysicalSizeZUnit": "µm"})
    img = load(tmp_path / "o.ome.tif")
    assert img.axes == "CZYX" and np.array_equal(img.numpy(), values.transpose(1, 0, 2, 3))
    assert img.unit == "nm" and img.spacing == pytest.approx((300.0, 65.0, 65.0), rel=1e-9)

    plain = _values((6, 9, 11), "uint16")
    tifffile.imwrite(tmp_path / "plain.tif", plain, photometric="minisblack")
    img = load(tmp_path / "plain.tif")
    assert img.axes == "ZYX" and img.unit == "pixel" and img.spacing == (1.0, 1.0, 1.0)
    assert np.array_equal(img.numpy(), plain)
    tifffile.imwrite(tmp_path / "dpi.tif", plain[0], resolution=(300, 300),
                     resolutionunit="INCH")
    assert load(tmp_path / "dpi.tif").unit == "pixel"
    tifffile.imwrite(tmp_path / "cm.tif", plain[0], resolution=(20000, 20000),
                     resolutionunit="CENTIMETER")
    img = load(tmp_path / "cm.tif")
    assert img.unit == "um" and img.spacing == pytest.approx((0.5, 0.5), rel=1e-9)


def test_tiff_tags_win_over_a_stale_geosr_record(tmp_path):
    """An ImageJ user who recalibrates and re-saves keeps our JSON: the tags must win."""
    import tifffile

    img = Image(np.ones((3, 4, 5), np.uint8), "ZYX", spacing=(2.0, 0.2, 0.2))
    save(img, tmp_path / "a.tif")
    with tifffile.TiffFile(tmp_path / "a.tif") as tif:
        info = tif.imagej_metadata["Info"]
    assert json.loads(info)["spacing"] == [2.0, 0.2, 0.2]
    tifffile.imwrite(tmp_path / "b.tif", np.ones((3, 4, 5), np.uint8), imagej=True,
                     resolution=(1 / 0.3, 1 / 0.3),
                     metadata={"axes": "ZYX", "spacing": 2.0, "unit": "micron", "Info": info})
    assert load(tmp_path / "b.tif").spacing == pytest.approx((2.0, 0.3, 0.3), rel=1e-6)


def test_foreign_nrrd_files(tmp_path):
    import nrrd

    values = _values((4, 5, 6), "uint16")  # C order Z, Y, X
    nrrd.write(str(tmp_path / "s.nrrd"), values, {"spacings": [0.1, 0.2, 0.5],
                                                  "units": ["um", "um", "um"]},
               index_order="C")
    img = load(tmp_path / "s.nrrd")
    assert img.axes == "ZYX" and np.array_equal(img.numpy(), values)
    assert img.spacing == pytest.approx((0.5, 0.2, 0.1)) and img.unit == "um"

    rgb = _values((5, 6, 3), "uint8")  # colour axis fastest, as Slicer writes it
    sd = np.array([[np.nan] * 2, [0.3, 0], [0, 0.4]])
    nrrd.write(str(tmp_path / "rgb.nrrd"), rgb, {"space dimension": 2, "space directions": sd,
                                                 "kinds": ["RGB-color", "domain", "domain"],
                                                 "space origin": [5.0, 6.0]},
               index_order="C")
    img = load(tmp_path / "rgb.nrrd")
    assert img.axes == "CYX" and np.array_equal(img.numpy(), np.moveaxis(rgb, -1, 0))
    assert img.spacing == pytest.approx((0.4, 0.3)) and img.origin == (6.0, 5.0)
    assert img.unit == "pixel"

    nrrd.write(str(tmp_path / "ras.nrrd"), values, {
        "space": "right-anterior-superior", "space directions": np.diag([0.5, 0.5, 1.5])},
        index_order="C")
    img = load(tmp_path / "ras.nrrd")
    assert img.unit == "mm" and "millimetres assumed" in img.metadata["io_note"]
    assert img.spacing == (1.5, 0.5, 0.5)


def test_nrrd_header_is_fastest_axis_first(tmp_path):
    img = Image(np.zeros((2, 3, 4, 5), np.uint8), "CZYX", spacing=(0.5, 0.2, 0.1))
    save(img, tmp_path / "c.nrrd", compression=None)
    head = (tmp_path / "c.nrrd").read_bytes().split(b"\n\n")[0].decode()
    assert "sizes: 2 5 4 3" in head
    assert "space directions: none (0.10000000000000001,0,0) (0,0.20000000000000001,0) " \
           "(0,0,0.5)" in head
    assert 'space units: "um" "um" "um"' in head and "encoding: raw" in head
    save(img, tmp_path / "g.nrrd")
    assert b"encoding: gzip" in (tmp_path / "g.nrrd").read_bytes()[:2000]


def test_axes_override_and_npy_without_sidecar(tmp_path):
    rgb = _values((8, 9, 3), "uint8")
    np.save(tmp_path / "rgb.npy", rgb)
    assert load(tmp_path / "rgb.npy").axes == "ZYX"  # guessed from the rank
    img = load(tmp_path / "rgb.npy", axes="YXC")
    assert img.axes == "CYX" and np.array_equal(img.numpy(), np.moveaxis(rgb, -1, 0))
    np.save(tmp_path / "four.npy", np.zeros((2, 1, 3, 4), np.float32))
    assert load(tmp_path / "four.npy", axes="CYX").shape == (2, 3, 4)
    with pytest.raises(InputError, match="axes"):
        load(tmp_path / "four.npy")
    with pytest.raises(InputError, match="axes"):
        load(tmp_path / "rgb.npy", axes="YXQ")
    lazy = load(tmp_path / "rgb.npy", lazy=True, axes="YXC")
    assert lazy.shape == (3, 8, 9) and np.array_equal(lazy.numpy(), np.moveaxis(rgb, -1, 0))


def test_lazy_npy_is_memory_mapped(tmp_path):
    values = _values((4, 5, 6), "float32")
    save(Image(values, "ZYX", spacing=(2, 1, 1)), tmp_path / "v.npy")
    img = load(tmp_path / "v.npy", lazy=True)
    assert isinstance(img.data, np.memmap) and img.spacing == (2.0, 1.0, 1.0)
    assert np.array_equal(img.data[1], values[1])


def test_stale_sidecar_is_an_error(tmp_path):
    save(Image(np.zeros((4, 5), np.uint8), "YX", spacing=(0.2, 0.2)), tmp_path / "s.png")
    save(Image(np.zeros((6, 5), np.uint8), "YX"), tmp_path / "other.png")
    (tmp_path / "other.png").replace(tmp_path / "s.png")
    with pytest.raises(InputError, match="sidecar") as err:
        load(tmp_path / "s.png")
    assert "s.png.json" in str(err.value)


# ------------------------------------------------------------------ bad input
def test_missing_file_folder_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="file not found") as err:
        load(tmp_path / "nope.tif")
    assert "nope.tif" in str(err.value)
    (tmp_path / "dir.tif").mkdir()
    with pytest.raises(InputError, match="folder"):
        load(tmp_path / "dir.tif")
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(InputError, match=r"unknown file extension.*\.tif") as err:
        load(tmp_path / "x.jpg")
    assert "x.jpg" in str(err.value)
    with pytest.raises(InputError, match="unknown file extension"):
        save(np.zeros((3, 3), np.uint8), tmp_path / "y.bmp")
    with pytest.raises(InputError, match="folder"):
        save(np.zeros((3, 3), np.uint8), tmp_path / "dir.tif")
    (tmp_path / "file.zarr").write_bytes(b"x")
    with pytest.raises(InputError, match="folder"):
        load(tmp_path / "file.zarr")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(InputError, match="zarr"):
        load(tmp_path / "empty.zarr")


@pytest.mark.parametrize("compression", ["zlib", None])
def test_truncated_tiff_is_an_input_error(tmp_path, compression):
    path = tmp_path / "cut.tif"
    save(Image(_values((8, 32, 32), "uint16"), "ZYX"), path, compression=compression)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        load(path)
    assert "cut.tif" in str(err.value)


def test_truncated_plain_tiff_and_ome(tmp_path):
    import tifffile

    for name, kw in (("p.tif", {}), ("o.ome.tif", {"ome": True})):
        path = tmp_path / name
        tifffile.imwrite(path, _values((6, 32, 32), "uint8"), photometric="minisblack", **kw)
        data = path.read_bytes()
        for frac in (0.5, 0.1):
            path.write_bytes(data[: int(len(data) * frac)])
            with pytest.raises(InputError, match=name.replace(".", r"\.")):
                load(path)


def test_truncated_and_garbage_files(tmp_path):
    for ext, compression in ((".nrrd", None), (".nrrd", "zlib"), (".npy", None)):
        path = tmp_path / f"cut{ext}"
        save(_values((6, 20, 20), "uint16"), path, compression=compression)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError) as err:
            load(path)
        assert f"cut{ext}" in str(err.value)
    for channels in (0, 3):  # Pillow path and 16-bit colour path
        shape = (channels, 30, 30) if channels else (30, 30)
        path = save(Image(_values(shape, "uint16"), "CYX" if channels else "YX"),
                    tmp_path / f"cut{channels}.png")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError, match=f"cut{channels}.png"):
            load(path)
    (tmp_path / "garbage.png").write_bytes(os.urandom(300))
    with pytest.raises(InputError, match="garbage.png"):
        load(tmp_path / "garbage.png")
    (tmp_path / "garbage.nrrd").write_bytes(b"NRRD0004\nsizes: what\n\n" + os.urandom(50))
    with pytest.raises(InputError, match="garbage.nrrd"):
        load(tmp_path / "garbage.nrrd")
    (tmp_path / "garbage.tif").write_bytes(b"II*\x00" + os.urandom(200))
    with pytest.raises(InputError, match="garbage.tif"):
        load(tmp_path / "garbage.tif")


UNPICKLED: list[str] = []


def _mark_unpickled() -> str:
    UNPICKLED.append("ran")
    return "payload"


class _Trap:
    def __reduce__(self):
        return (_mark_unpickled, ())


def test_object_npy_is_refused_without_unpickling(tmp_path):
    values = np.empty(2, dtype=object)
    values[0], values[1] = _Trap(), _Trap()
    np.save(tmp_path / "obj.npy", values, allow_pickle=True)
    for lazy in (False, True):
        with pytest.raises(InputError, match="never unpickles") as err:
            load(tmp_path / "obj.npy", lazy=lazy)
        assert "obj.npy" in str(err.value)
    assert UNPICKLED == []


@pytest.mark.parametrize("ext", [".tif", ".ome.tif", ".png", ".npy", ".nrrd", ".zarr"])
def test_unsupported_dtype_leaves_nothing_behind(tmp_path, ext):
    target = tmp_path / f"out{ext}"
    with pytest.raises(InputError, match="uint8") as err:
        save(np.arange(12, dtype=np.int64).reshape(3, 4), target)
    assert "astype" in str(err.value)  # says how to convert
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == []


def test_int64_hint_and_other_save_errors(tmp_path):
    with pytest.raises(InputError, match=r"0\.\.11.*uint8"):
        save(np.arange(12, dtype=np.int64).reshape(3, 4), tmp_path / "a.tif")
    with pytest.raises(InputError, match="PNG"):
        save(np.zeros((3, 4), np.float32), tmp_path / "f.png")
    with pytest.raises(InputError, match="PNG holds"):
        save(np.zeros((2, 3, 4), np.uint8), tmp_path / "v.png")
    with pytest.raises(ConfigError, match="compression"):
        save(np.zeros((3, 4), np.uint8), tmp_path / "c.tif", compression="jpeg2000")
    with pytest.raises(InputError, match="empty"):
        save(np.zeros((0, 4), np.uint8), tmp_path / "e.tif")
    assert sorted(os.listdir(tmp_path)) == []


def test_failed_save_keeps_existing_file(tmp_path):
    target = save(np.ones((3, 4), np.uint8), tmp_path / "keep.nrrd")
    before = target.read_bytes()
    with pytest.raises(GeosrError):
        save(np.ones((3, 4), np.int32), target)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.nrrd"]


# ------------------------------------------------------------------ real data
@pytest.mark.data
def test_real_tribolium_imagej_tiff(data_dir, tmp_path):
    img = load(data_dir / "fluorescence/tribolium_lund_3d/Lund_000500_resampled-cropped.tif")
    assert img.axes == "ZYX" and img.shape == (100, 256, 256) and img.dtype == np.uint16
    # XResolution = 999999/1000000 px per micron, no ImageJ 'spacing' entry (Z = 1)
    assert img.unit == "um"
    assert img.spacing == pytest.approx((1.0, 1.000001, 1.000001), abs=1e-3)
    values = img.numpy()
    assert int(values.min()) == 125 and int(values.max()) == 680
    back = load(save(img, tmp_path / "lund.zarr"))
    _assert_same(back, img)


@pytest.mark.data
def test_real_lhdl_bone_tiff(data_dir, tmp_path):
    img = load(data_dir / "bone/lhdl_trabecular_microct/3155_D_4_bc_200cube_uint8.tif")
    assert img.axes == "ZYX" and img.shape == (200, 200, 200) and img.dtype == np.uint8
    assert img.unit == "um" and img.spacing == pytest.approx((19.5, 19.5, 19.5), abs=1e-6)
    back = load(save(img, tmp_path / "lhdl.tif"))
    _assert_same(back, img)


@pytest.mark.data
def test_real_shrew_nrrd(data_dir, tmp_path):
    # header: sizes 114 114 115 (x, y, z, fastest first) -> ZYX (115, 114, 114);
    # space units "mm", directions 0.0041 -> kept in mm, 4.1 um
    img = load(data_dir / "bone/shrew_mask/Shrew.nrrd")
    assert img.axes == "ZYX" and img.shape == (115, 114, 114) and img.dtype == np.uint8
    assert img.unit == "mm"
    assert img.spacing_um == pytest.approx((4.1, 4.1, 4.1), rel=1e-6)
    values = img.numpy()
    assert set(np.unique(values).tolist()) == {0, 255}
    back = load(save(img, tmp_path / "shrew.nrrd"))
    _assert_same(back, img)


@pytest.mark.data
def test_real_ketton_rock_tiff(data_dir, tmp_path):
    img = load(data_dir / "rock/imperial_ketton_binary/ketton_256cube_binary_uint8.tif")
    assert img.axes == "ZYX" and img.shape == (256, 256, 256) and img.dtype == np.uint8
    assert img.unit == "pixel" and img.spacing == (1.0, 1.0, 1.0)  # no calibration in file
    values = img.numpy()
    assert float((values == 0).mean()) == pytest.approx(0.1269, abs=1e-4)
    back = load(save(img, tmp_path / "ketton.zarr"), lazy=True)
    assert back.data.chunks == (64, 64, 64)
    _assert_same(back, img)


@pytest.mark.data
def test_real_pngs(data_dir, tmp_path):
    rgb = load(data_dir / "sr_benchmarks/Set5/image_SRF_2/img_001_SRF_2_HR.png")
    assert rgb.axes == "CYX" and rgb.shape == (3, 512, 512) and rgb.dtype == np.uint8
    grey = load(data_dir / "sr_benchmarks/Set14/image_SRF_2/img_003_SRF_2_HR.png")
    assert grey.axes == "YX" and grey.shape == (512, 512) and grey.dtype == np.uint8
    w2s = load(data_dir / "fluorescence/w2s_pairs/lowsnr_avg1/081_0.png")
    assert w2s.axes == "YX" and w2s.shape == (512, 512) and w2s.dtype == np.uint8
    from PIL import Image as PILImage

    with PILImage.open(data_dir / "sr_benchmarks/Set5/image_SRF_2/img_001_SRF_2_HR.png") as im:
        assert np.array_equal(rgb.numpy(), np.moveaxis(np.asarray(im), -1, 0))
    _assert_same(load(save(rgb, tmp_path / "rgb.png")), rgb)
    _assert_same(load(save(w2s, tmp_path / "w2s.tif")), w2s)
