"""Registration on real acquisitions (W2S widefield: one noisy frame vs the 400-frame average
of the same field): the single frame binned ×4 from two known HR offsets differs by exactly
−offset / 4 LR px, with the instrument's own noise (benchmarks/registration.py --part real)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.data


def _pair(data_dir, name):
    from skimage.io import imread

    folder = data_dir / "fluorescence" / "w2s_pairs"
    return (imread(folder / "lowsnr_avg1" / f"{name}.png").astype(np.float64),
            imread(folder / "highsnr_avg400" / f"{name}.png").astype(np.float64))


def test_real_pair_known_shift_rotation_and_noise(data_dir, bench):
    reg_bench = bench("registration")
    low, high = _pair(data_dir, "090_1")
    offset = (2, 1)
    scale, n = 4, 508

    def binned(oy, ox):
        block = low[oy:oy + n, ox:ox + n]
        return block.reshape(n // scale, scale, n // scale, scale).mean(axis=(1, 3))

    first, moved = (reg_bench._register_real(binned(*o), high, scale)
                    for o in ((0, 0), offset))
    relative = np.subtract(moved["shift"], first["shift"])
    assert relative == pytest.approx(-np.asarray(offset) / scale, abs=0.03)
    for reg in (first, moved):
        assert reg["verdict"] == "ok", reg["reason"]
        assert abs(reg["rotation_deg"]) < 0.05           # one acquisition: truth 0
        assert reg["se"]["rotation_deg"] < 0.03
    direct = reg_bench._direct_noise(low, high)          # on the shared grid, no registration
    assert first["gain"] == pytest.approx(direct["gain"] / scale ** 2, rel=0.12)
    assert first["read_noise"] == pytest.approx(direct["read_noise"] / scale, rel=0.12)
