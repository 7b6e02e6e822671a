"""Images pasted into pages: checked by their bytes, stored once by content, served back.

Only raster formats a browser shows without running code are accepted (PNG, JPEG, GIF,
WebP); SVG is refused because it can carry scripts. A file is named by the SHA-256 of its
bytes, so the same image uploaded twice is stored once and its URL cannot be guessed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ImageError(ValueError):
    """An upload is not an image we accept; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    # (magic bytes, offset, extension, media type)
    (b"\x89PNG\r\n\x1a\n", 0, "png", "image/png"),
    (b"\xff\xd8\xff", 0, "jpg", "image/jpeg"),
    (b"GIF87a", 0, "gif", "image/gif"),
    (b"GIF89a", 0, "gif", "image/gif"),
    (b"WEBP", 8, "webp", "image/webp"),
)
MEDIA_TYPES = {ext: media for _, _, ext, media in _SIGNATURES}
STORED_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")


def sniff(head: bytes) -> tuple[str, str]:
    """Return (extension, media type) from the first bytes; raise ImageError otherwise."""
    for magic, offset, ext, media in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (ext != "webp" or head[:4] == b"RIFF"):
            return ext, media
    raise ImageError("this file is not a PNG, JPEG, GIF or WebP image", 415)


@dataclass(frozen=True)
class StoredImage:
    name: str
    media_type: str
    size: int


class ImageStore:
    """A folder of images named by content."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def save(self, data: bytes) -> StoredImage:
        """Check and store `data`; the same bytes always give the same name."""
        if not data:
            raise ImageError("the file is empty")
        if len(data) > self.max_bytes:
            raise ImageError(f"the image is larger than {self.max_bytes} bytes", 413)
        ext, media = sniff(data[:16])
        name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
        path = self.folder / name
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a reader never sees half a file.
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return StoredImage(name, media, len(data))

    def path_of(self, name: str) -> Path | None:
        """The file for a stored name, or None when the name is not one we gave out."""
        if not STORED_NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None
