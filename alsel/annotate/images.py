"""Which file shows image ``i`` of a store, and the rule that nothing outside the folder is served.

Image ``i`` is ``store.image_names[i]`` under the image folder when the store has names;
otherwise the ``i``-th image file of the folder in sorted order of the relative paths (sub-folders
included), and the folder must hold exactly ``n_images`` of them. Only files whose real path
(symlinks resolved) lies inside the folder's real path are served: a name with ``..``, an absolute
name or a symlink pointing out of the folder is refused when the source is built, and checked
again at every request (a file swapped for a symlink later is not served either).
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")  # no SVG: it can carry scripts


def list_images(root: str | os.PathLike) -> list[str]:
    """Relative POSIX paths of the image files under ``root`` (by suffix), sorted."""
    root = Path(root)
    found = [p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.suffix.lower() in SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(found)


class ImageSource:
    """The image files of a store's images, inside one folder.

    Parameters
    ----------
    root : path-like
        The image folder (``--images``).
    n_images : int
        Images in the store.
    names : sequence of str, optional
        Relative path of each image under ``root`` (the store's ``image_names``). Without it, the
        sorted image files of ``root`` are used and their count must be ``n_images``.
    """

    def __init__(self, root: str | os.PathLike, n_images: int, names: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"--images: {self.root} is not a folder; pass the folder that holds the images (--images).")
        self.real_root = self.root.resolve(strict=True)
        if names is None:
            names = list_images(self.root)
            if len(names) != n_images:
                raise ValueError(
                    f"--images: {self.root} holds {len(names)} image files ({', '.join(SUFFIXES)}) but the "
                    f"store has {n_images} images and no image names; image i is the i-th file in sorted "
                    "order, so the counts must match (or create the store with image_names).")
        elif len(names) != n_images:
            raise ValueError(f"--images: {len(names)} names for {n_images} images.")
        self.names = [str(n) for n in names]
        bad = [(n, why) for n in self.names if (why := self._refusal(n)) is not None]
        if bad:
            shown = "; ".join(f"{n!r}: {why}" for n, why in bad[:5])
            raise ValueError(f"--images: {len(bad)} image(s) under {self.root} cannot be served: {shown}"
                             + (" ..." if len(bad) > 5 else ""))

    def __len__(self) -> int:
        return len(self.names)

    def _refusal(self, name: str) -> str | None:
        pure = PurePosixPath(name)
        if not pure.parts or pure.is_absolute() or name.startswith(("/", "\\")) or ":" in pure.parts[0]:
            return "not a relative path"
        if ".." in pure.parts or "\\" in name:
            return "'..' or a backslash in the name"
        path = self.root / pure
        try:
            real = path.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            return "no such file"
        if not real.is_relative_to(self.real_root):
            return "it resolves outside the image folder (a symlink?)"
        if not real.is_file():
            return "not a regular file"
        return None

    def path(self, image: int) -> Path | None:
        """The file of ``image``, or None when it must not be served (checked now, not cached)."""
        if not 0 <= image < len(self.names):
            return None
        name = self.names[image]
        if self._refusal(name) is not None:
            return None
        return (self.root / name).resolve(strict=True)

    def media_type(self, image: int) -> str:
        kind, _ = mimetypes.guess_type(self.names[image])
        return kind or "application/octet-stream"
