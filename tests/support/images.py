"""Small real PNG images, for uploads."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def png(width: int = 1, height: int = 1, colour: bytes = b"\xff\x00\x00") -> bytes:
    """A valid PNG of one `colour` (RGB bytes), red by default."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + colour * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_file(folder: Path) -> Path:
    """A small blue PNG, `schema.png` in `folder`, to pick in a file chooser."""
    path = folder / "schema.png"
    path.write_bytes(png(4, 3, b"\x1e\x5b\xb8"))
    return path
