"""A minimal PNG codec for 16-bit colour (RGB, RGBA, grey+alpha), which Pillow cannot hold
without dropping to 8 bits.

Writes non-interlaced PNG with filter 0 and zlib; reads non-interlaced 8/16-bit PNG of any
filter (the Average and Paeth filters are undone pixel by pixel in Python: correct, but slow for
large foreign files). Used by :mod:`geosr.io.png` only where Pillow would lose bits.

>>> import numpy as np
>>> rgb = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 3000
>>> np.array_equal(decode(encode(rgb)), rgb)
True
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["encode", "decode", "header", "PNG_SIGNATURE"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def encode(array: np.ndarray, level: int = 6) -> bytes:
    """PNG bytes for a ``(H, W)`` or ``(H, W, C)`` uint8/uint16 array, C in 1..4."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    height, width, channels = array.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    depth = 8 * array.dtype.itemsize
    rows = np.ascontiguousarray(array.astype(f">u{array.dtype.itemsize}")).view(np.uint8)
    raw = np.zeros((height, 1 + rows.size // height), np.uint8)
    raw[:, 1:] = rows.reshape(height, -1)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _chunk(b"IEND", b""))


def header(data: bytes) -> dict[str, int]:
    """Width, height, bit depth, colour type and interlace method from the IHDR chunk."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 33:
        raise ValueError("not a PNG file (bad signature or header)")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return {"width": width, "height": height, "depth": depth, "colour": colour,
            "interlace": interlace}


def _unfilter(raw: np.ndarray, height: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 0:
            cur = line
        elif kind == 1:
            cur = line.reshape(-1, bpp).cumsum(axis=0).reshape(-1) % 256
        elif kind == 2:
            cur = (line + prev) % 256
        elif kind in (3, 4):
            cur = line.copy()
            up = prev
            for x in range(stride):
                left = cur[x - bpp] if x >= bpp else 0
                if kind == 3:
                    pred = (left + up[x]) // 2
                else:
                    upleft = up[x - bpp] if x >= bpp else 0
                    p = left + up[x] - upleft
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - upleft)
                    pred = left if pa <= pb and pa <= pc else (up[x] if pb <= pc else upleft)
                cur[x] = (cur[x] + pred) % 256
        else:
            raise ValueError(f"unknown PNG filter type {kind} in row {y}")
        out[y] = cur
        prev = cur
    return out


def decode(data: bytes) -> np.ndarray:
    """``(H, W)`` or ``(H, W, C)`` array from PNG bytes (grey, grey+alpha, RGB, RGBA at 8 or
    16 bits, not interlaced). Raises ValueError on a truncated or corrupt file."""
    info = header(data)
    if info["colour"] not in _CHANNELS or info["depth"] not in (8, 16):
        raise ValueError("unsupported PNG colour type or bit depth for this decoder")
    if info["interlace"]:
        raise ValueError("interlaced PNG is not supported for 16-bit colour")
    pos, idat, ended = 8, [], False
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(payload) != length or len(crc) != 4:
            raise ValueError(f"PNG chunk {kind!r} is cut short (truncated file)")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + payload) & 0xFFFFFFFF:
            raise ValueError(f"PNG chunk {kind!r} fails its CRC check (corrupt file)")
        if kind == b"IDAT":
            idat.append(payload)
        elif kind == b"IEND":
            ended = True
            break
        pos += 12 + length
    if not ended:
        raise ValueError("PNG has no IEND chunk (truncated file)")
    channels, nbytes = _CHANNELS[info["colour"]], info["depth"] // 8
    height, width = info["height"], info["width"]
    stride = width * channels * nbytes
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (stride + 1):
        raise ValueError("PNG image data has the wrong length (truncated or corrupt file)")
    pixels = _unfilter(np.frombuffer(raw, np.uint8).reshape(height, stride + 1), height,
                       stride, channels * nbytes)
    values = pixels.view(f">u{nbytes}").reshape(height, width, channels)
    values = values.astype(f"u{nbytes}")
    return values[:, :, 0] if channels == 1 else values
