"""Loading MNIST-family datasets: from the cache (downloading what is missing) or a local folder.

Cache layout, under cache_dir() / <dataset>:
  <file>.gz                      the published file, verified by SHA-256 when it was downloaded
  <kind>-<sha256 prefix>.npy     its decoded uint8 array, so later starts skip gzip and IDX parsing
Arrays are saved with allow_pickle=False and read back header first: no pickle anywhere, since
unpickling a file can run arbitrary code, and nothing allocated that the header and file size do not
justify. A set of 0 images or labels is refused, naming the file.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .atomic import write_with
from .dataset import Dataset, DatasetError
from .download import DownloadError, DownloadProgress, download, remove_stale_parts
from .idx import GZIP_MAGIC, IMAGES_MAGIC, LABELS_MAGIC, IdxError, plausible_shape, read_idx
from .npz import read_npy_header
from .registry import FILENAMES, DatasetInfo, RemoteFile, dataset_info

ProgressSink = Callable[[DownloadProgress], None]


class UnverifiedDataWarning(UserWarning):
    """A local file matched no published checksum; it was accepted after structural validation."""


def cache_dir() -> Path:
    """$BACKPROP_TUI_DATA, else $XDG_CACHE_HOME/backprop-tui, else ~/.cache/backprop-tui."""
    if os.environ.get("BACKPROP_TUI_DATA"):
        return Path(os.environ["BACKPROP_TUI_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "backprop-tui"


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    download_missing: bool = True,
    progress: ProgressSink | None = None,
    warn: Callable[[str], None] | None = None,
) -> Dataset:
    """Load a dataset from `data_dir` if given, else from the cache, downloading missing files.

    `warn` receives each warning (a local file that could not be verified); by default they
    are issued as UnverifiedDataWarning.
    """
    try:
        info = dataset_info(name)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    if data_dir is not None:
        warn = warn or (lambda message: warnings.warn(message, UnverifiedDataWarning, stacklevel=3))
        arrays = {f.kind: _from_folder(Path(data_dir).expanduser(), f, warn) for f in info.files}
    else:
        folder = cache_dir() / info.name
        remove_stale_parts(folder, info.files)
        arrays = {f.kind: _from_cache(info, f, folder, download_missing, progress) for f in info.files}
    return _assemble(info, arrays)


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
               data_dir: str | os.PathLike | None = None):
    """The book's load_mnist: ((x_train, t_train), (x_test, t_test)).

    normalize: float32 pixels in [0, 1] instead of uint8 0-255; flatten: (N, 784)
    instead of (N, 1, 28, 28); one_hot_label: (N, 10) one-hot rows instead of labels.
    """
    data = load_dataset("mnist", data_dir)
    result = []
    for x, t in ((data.x_train, data.t_train), (data.x_test, data.t_test)):
        if normalize:
            x = x.astype(np.float32) / 255.0
        if not flatten:
            x = x.reshape(-1, 1, *data.image_shape)
        if one_hot_label:
            t = np.eye(data.num_classes)[t]
        result.append((x, t))
    return tuple(result)


def _assemble(info: DatasetInfo, arrays: dict[str, np.ndarray]) -> Dataset:
    train, test = arrays["train_images"], arrays["test_images"]
    if train.shape[1:] != test.shape[1:]:
        raise DatasetError(f"{info.title}: train images are {train.shape[1:]}, test images {test.shape[1:]}")
    for kind in ("train_labels", "test_labels"):
        if arrays[kind].size and arrays[kind].max() >= len(info.class_names):
            raise DatasetError(f"{info.title}: {kind.replace('_', ' ')} include class {arrays[kind].max()}, "
                               f"but it has {len(info.class_names)} classes")
    return Dataset(
        name=info.name,
        x_train=train.reshape(len(train), -1),
        t_train=arrays["train_labels"],
        x_test=test.reshape(len(test), -1),
        t_test=arrays["test_labels"],
        image_shape=tuple(train.shape[1:]),
        class_names=info.class_names,
    )


def _magic(remote: RemoteFile) -> int:
    return IMAGES_MAGIC if remote.kind.endswith("images") else LABELS_MAGIC


def _read_set(path: Path, remote: RemoteFile) -> np.ndarray:
    """The file's array (IdxError if it is not one); a set without a single item is refused here."""
    array = read_idx(path, _magic(remote))
    if len(array) == 0:
        part, what = remote.kind.split("_")
        raise DatasetError(f"{path}: 0 {what}: the {'training' if part == 'train' else 'test'} set is empty")
    return array


# ---- cache -------------------------------------------------------------------------


def decoded_path(folder: Path, remote: RemoteFile) -> Path:
    return folder / f"{remote.kind}-{remote.sha256[:16]}.npy"


def _from_cache(info: DatasetInfo, remote: RemoteFile, folder: Path, download_missing: bool,
                progress: ProgressSink | None) -> np.ndarray:
    decoded = decoded_path(folder, remote)
    if decoded.is_file():
        array = _load_decoded(decoded, 3 if remote.kind.endswith("images") else 1)
        if array is not None:
            return array
        decoded.unlink(missing_ok=True)  # damaged: rebuild it from the verified .gz
    source = folder / remote.name
    if not (source.is_file() and source.stat().st_size == remote.size):
        if not download_missing:
            raise DatasetError(f"{info.title} is not in the cache ({folder}): missing {remote.name}. "
                               f"Run `python -m engine data fetch {info.name}`, or pass --data-dir FOLDER")
        try:
            download(info, remote, folder, progress)
        except DownloadError as exc:
            raise DatasetError(str(exc)) from None
    try:
        array = _read_set(source, remote)
    except IdxError as exc:
        source.unlink(missing_ok=True)  # never keep a bad file in the cache
        raise DatasetError(f"{exc}; removed it from the cache, run again to download it afresh") from None
    write_with(decoded, lambda f: np.save(f, array, allow_pickle=False))
    return array


def _load_decoded(path: Path, ndim: int) -> np.ndarray | None:
    """A decoded array as we saved it, or None: the header is checked against the file's size before
    any data is read, so a damaged or planted file claiming terabytes costs nothing."""
    try:
        with open(path, "rb") as f:
            shape, fortran_order, dtype = read_npy_header(f, path.name)
            count = math.prod(shape)
            if (dtype != np.uint8 or fortran_order or len(shape) != ndim or not shape[0] or not plausible_shape(shape)
                    or os.fstat(f.fileno()).st_size != f.tell() + count):
                return None
            return np.fromfile(f, dtype=np.uint8, count=count).reshape(shape)
    except (OSError, ValueError):  # npz.NpzError (a header that cannot be read) is a ValueError
        return None


def cached_files(info: DatasetInfo) -> dict[str, str]:
    """Without hashing: 'cached', 'decoded' (only the decoded array is left) or 'missing' per file."""
    folder = cache_dir() / info.name
    report = {}
    for remote in info.files:
        if (folder / remote.name).is_file():
            report[remote.name] = "cached"
        else:
            report[remote.name] = "decoded" if decoded_path(folder, remote).is_file() else "missing"
    return report


def verify_cached(info: DatasetInfo) -> dict[str, str]:
    """Re-hash each cached file: 'ok', 'missing', or what was wrong with it (such a file is removed)."""
    folder = cache_dir() / info.name
    report = {}
    for remote in info.files:
        path = folder / remote.name
        if not path.is_file():
            report[remote.name] = "missing"
            continue
        size = path.stat().st_size
        if size != remote.size:
            problem = f"size {size:,}, expected {remote.size:,}"
        elif sha256_file(path) != remote.sha256:
            problem = "SHA-256 mismatch"
        else:
            report[remote.name] = "ok"
            continue
        path.unlink()
        decoded_path(folder, remote).unlink(missing_ok=True)
        report[remote.name] = f"{problem}: removed; `python -m engine data fetch {info.name}` downloads it again"
    return report


# ---- local folders -------------------------------------------------------------------


def _from_folder(folder: Path, remote: RemoteFile, warn: Callable[[str], None]) -> np.ndarray:
    if not folder.is_dir():
        raise DatasetError(f"data folder {folder} does not exist")
    raw_name = remote.name.removesuffix(".gz")
    path = next((p for p in (folder / remote.name, folder / raw_name) if p.is_file()), None)
    if path is None:
        raise DatasetError(
            f"{folder}: missing {remote.name} (or {raw_name}). A data folder needs the four standard files: "
            + ", ".join(FILENAMES.values())
        )
    try:
        array = _read_set(path, remote)
    except IdxError as exc:
        raise DatasetError(str(exc)) from None
    status = check_local_file(path, remote)
    if status == "unverified":
        warn(f"{path}: matches no published checksum for this dataset; it is a well-formed IDX file "
             "and is used as it is, but could not be verified")
    return array


def check_local_file(path: Path, remote: RemoteFile) -> str:
    """'verified' (published .gz), 'verified-raw' (decompressed bytes match), or 'unverified'."""
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if compressed and sha256_file(path) == remote.sha256:
        return "verified"
    if remote.raw_sha256 is not None:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            if _sha256_stream(f) == remote.raw_sha256:
                return "verified-raw"
    return "unverified"


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return _sha256_stream(f)


def _sha256_stream(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()
