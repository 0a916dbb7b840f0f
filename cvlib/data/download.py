"""Verified downloads and archive extraction that cannot escape its folder.

Used by the full-profile loaders of lessons 02 (hymenoptera), 03 (Penn-Fudan), 06 (horse2zebra) and
10 (CMP Facades, BSDS300).

Policy (issue 11): a download is checked against its published checksum; where
none is published, the archive's SHA-256 is printed (so it can be recorded) and
the extracted files are verified instead (folder layout, image counts, every
image decodes). A damaged archive, or one whose contents fail verification,
gives one clear error; the archive and the partly extracted folder are removed,
so the next run downloads afresh. A lesson's own dataset is never refused.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from cvlib.config import cvlib_url

# File suffixes the image-folder datasets (hymenoptera, CelebA, horse2zebra, facades, BSDS300) read as images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class DatasetUnavailableError(RuntimeError):
    """A ``full`` dataset is neither on disk nor downloadable; the message says what to do."""


class DatasetCorruptError(DatasetUnavailableError):
    """A downloaded archive was damaged or its contents failed verification; the files were removed."""


def unavailable(name: str, folder: Path, how: str, cause: BaseException | None = None) -> DatasetUnavailableError:
    """Build the one-line error a learner sees when a dataset is missing."""
    first_line = str(cause).strip().splitlines()[0] if cause is not None and str(cause).strip() else ""
    reason = f" ({type(cause).__name__}: {first_line.rstrip(':')})" if cause is not None else ""
    return DatasetUnavailableError(
        f"dataset {name!r} is not in {folder} and could not be downloaded{reason}. "
        f"{how} Or run the lesson with the offline profile: CVLIB_PROFILE=quick."
    )


def _digest(path: Path, algorithm: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)  # MD5 only checks integrity
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256sum(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return _digest(path, "sha256")


def _checksum_ok(path: Path, sha256: str | None, md5: str | None) -> bool:
    """True when ``path`` matches every checksum given (and when none is given)."""
    return (sha256 is None or _digest(path, "sha256") == sha256) and (md5 is None or _digest(path, "md5") == md5)


def download(url: str, dest: Path, sha256: str | None, *, md5: str | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` (skipped if the file is there, with the right checksum if one is given).

    The file is written to ``dest.part`` and renamed only when complete and, if
    ``sha256`` (or, where only an MD5 is published, ``md5``) is given, only after it
    matches, so an interrupted or corrupted download never looks complete. With no
    published checksum the archive's SHA-256 is printed so it can be recorded; the caller
    verifies what it extracts (see :func:`download_and_extract`). ``url`` goes through
    :func:`cvlib.config.cvlib_url`, so ``CVLIB_MIRROR`` serves every cvlib download.

    Raises:
        urllib.error.URLError / OSError: the download failed (callers turn it into
            a :class:`DatasetUnavailableError`).
        ValueError: the checksum does not match (the file is removed).
    """
    dest = Path(dest)
    if dest.exists() and _checksum_ok(dest, sha256, md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = cvlib_url(url)
    part = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))
    if total is not None and part.stat().st_size != total:
        size = part.stat().st_size
        part.unlink()
        raise OSError(
            f"download of {url} was cut short ({size} of {total} bytes); the partial file was removed: try again."
        )
    if sha256 is None and md5 is None:
        print(
            f"{dest.name}: sha256 {sha256sum(part)} (no published checksum: the extracted files are verified instead)"
        )
    elif not _checksum_ok(part, sha256, md5):
        kind, expected, actual = ("sha256", sha256, sha256sum(part)) if sha256 else ("md5", md5, _digest(part, "md5"))
        part.unlink()
        raise ValueError(
            f"checksum mismatch for {url}: expected {kind} {expected}, got {actual}. "
            "The file was removed; the link may have changed or the download was corrupted: try again."
        )
    part.replace(dest)
    return dest


def _safe_target(root: Path, member: str) -> Path:
    target = (root / member).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"archive member {member!r} would be written outside {root}: refusing to extract.")
    return target


def extract(archive: Path, dest: Path) -> Path:
    """Extract a .zip or .tar(.gz/.bz2/.xz) into ``dest``; refuse any member that escapes it.

    Links and device files inside tar archives are refused as well.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _safe_target(root, info.filename)
            zf.extractall(root)
        return dest
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            _safe_target(root, m.name)
            if not (m.isfile() or m.isdir()):
                raise ValueError(f"archive member {m.name!r} is a link or special file: refusing to extract.")
        tf.extractall(root, members=members, filter="data")
    return dest


def download_and_extract(
    url: str,
    folder: Path,
    sha256: str | None,
    *,
    name: str,
    how: str,
    archive_name: str | None = None,
    verify: Callable[[Path], object] | None = None,
    md5: str | None = None,
) -> Path:
    """Download an archive (checked against ``sha256`` or ``md5`` if given), extract it, verify ``folder``.

    ``folder`` is what the archive creates inside ``folder.parent``. ``verify(folder)``
    raises (any exception, with a clear message) when the extracted files are not what
    the dataset must contain; it is required when there is no checksum.

    Raises:
        DatasetUnavailableError: the download failed (named dataset, expected folder, what to do).
        DatasetCorruptError: the archive could not be extracted or failed verification; the
            archive and ``folder`` were removed, so running again downloads afresh.
    """
    if sha256 is None and md5 is None and verify is None:
        raise ValueError(f"{name}: without a checksum the extracted files must be verified: pass verify=.")
    folder = Path(folder)
    archive = folder.parent / (archive_name or url.rsplit("/", 1)[-1])
    try:
        download(url, archive, sha256, md5=md5)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise unavailable(name, folder, how, err) from err
    try:
        extract(archive, folder.parent)
        if verify is not None:
            verify(folder)
    except Exception as err:
        shutil.rmtree(folder, ignore_errors=True)
        archive.unlink(missing_ok=True)
        first = (str(err).strip().splitlines() or [""])[0]
        raise DatasetCorruptError(
            f"dataset {name!r}: the downloaded archive {archive.name} is damaged or incomplete "
            f"({type(err).__name__}: {first}). The archive and the partly extracted files in {folder} "
            f"were removed: run again to download it afresh. {how}"
        ) from err
    return folder


def image_files(folder: Path) -> list[Path]:
    """The images (``IMAGE_SUFFIXES``) directly inside ``folder``, sorted by name, numeric names
    (``2.jpg`` before ``10.jpg``) in numeric order first; ``[]`` when the folder is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name))


def check_image_counts(folder: Path, counts: Mapping[str, int]) -> dict[str, list[Path]]:
    """Check that ``folder/<sub>`` holds exactly ``counts[sub]`` images for every ``sub`` (cheap: no decoding).

    Returns ``{sub: image_files(folder / sub)}``.

    Raises:
        ValueError: naming the first sub-folder that is missing or has another number of images.
    """
    found = {}
    for sub, expected in counts.items():
        path = Path(folder) / sub
        if not path.is_dir():
            raise ValueError(f"{path} is missing")
        found[sub] = image_files(path)
        if len(found[sub]) != expected:
            raise ValueError(f"{path} has {len(found[sub])} images, expected {expected}")
    return found


def check_images_decode(files: list[Path], shape_ok: Callable[[int, int], bool] | None = None, shape: str = "") -> None:
    """Check that every file is a readable image and, if ``shape_ok(width, height)`` is given, of the right shape.

    Raises:
        ValueError: naming the first file that is not a readable image, or whose size fails
            ``shape_ok`` (the message ends with ``shape``, what was expected).
    """
    for path in files:
        try:
            with Image.open(path) as im:
                width, height = im.size
                im.verify()
        except Exception as err:
            raise ValueError(f"{path} is not a readable image ({type(err).__name__})") from err
        if shape_ok is not None and not shape_ok(width, height):
            raise ValueError(f"{path} is {width}x{height} px, expected {shape}")


def incomplete(name: str, folder: Path, cause: BaseException, how: str) -> DatasetUnavailableError:
    """The one-line error for a dataset folder on disk that fails its layout / count check."""
    return DatasetUnavailableError(
        f"dataset {name!r} in {folder} is incomplete ({cause}): delete that folder and run again to download "
        f"it afresh. {how} Or run the lesson with the offline profile: CVLIB_PROFILE=quick."
    )


def find_or_download(
    folder: Path,
    required: Iterable[str],
    recheck: Callable[[Path], object],
    *,
    download: bool,
    url: str,
    name: str,
    how: str,
    sha256: str | None = None,
    **extract_kwargs: object,
) -> Path:
    """The dataset folder: downloaded and verified (:func:`download_and_extract`) when any of ``required``
    (paths relative to ``folder``; ``""`` = the folder itself) is missing, else re-checked with ``recheck``.

    Raises:
        DatasetUnavailableError: missing with ``download=False`` (or the download failed), or a folder on
            disk that fails ``recheck`` (:func:`incomplete`: delete it and run again).
        DatasetCorruptError: the downloaded archive was damaged or failed verification (removed).
    """
    folder = Path(folder)
    if not all((folder / part).is_dir() for part in required):
        if not download:
            raise unavailable(name, folder, how)
        return download_and_extract(url, folder, sha256, name=name, how=how, **extract_kwargs)  # type: ignore[arg-type]
    try:
        recheck(folder)
    except ValueError as err:
        raise incomplete(name, folder, err, how) from err
    return folder
