"""Downloads and the cache, against a test HTTP server on 127.0.0.1 (no other network)."""
from __future__ import annotations

import gzip
import hashlib
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from engine import loader, registry
from engine.dataset import DatasetError
from engine.download import DownloadError, download
from engine.idx import write_idx
from engine.registry import FILENAMES, DatasetInfo, RemoteFile


class Server:
    """Serves files from `routes` (path -> bytes or a behaviour) and counts requests."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.hits: dict[str, int] = {}
        self.release = threading.Event()  # ends stalls at teardown
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                route = outer.routes.get(self.path)
                if callable(route):
                    route = route(self, outer.hits[self.path])
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route == "handled":
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(route)))
                self.end_headers()
                self.wfile.write(route)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, files: dict[str, bytes], base: str) -> None:
        """Serve each dataset file under `base` with its standard name."""
        for kind, data in files.items():
            self.routes[base + FILENAMES[kind]] = data

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def drop_after(data: bytes, sent: int):
    """A response that announces all of `data` but closes the connection after `sent` bytes."""

    def respond(handler, hit):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[:sent])
        handler.wfile.flush()
        handler.close_connection = True
        return "handled"

    return respond


def stall(server: Server):
    def respond(handler, hit):
        server.release.wait(10)
        return "handled"

    return respond


def make_files(n_train=30, n_test=10, seed=0) -> dict[str, bytes]:
    """The four standard files, gzip-compressed, of a tiny random dataset."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    out = {}
    for kind, array in arrays.items():
        header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        out[kind] = gzip.compress(header + array.tobytes(), mtime=0)
    return out


def info_for(files: dict[str, bytes], mirrors: tuple[str, ...]) -> DatasetInfo:
    return DatasetInfo(
        name="mnist", title="Test MNIST", mirrors=mirrors,
        files=tuple(RemoteFile(kind, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())
                    for kind, data in files.items()),
        class_names=tuple("0123456789"), licence="test data",
    )


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("BACKPROP_TUI_DATA", str(root))
    return root


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".part", ".tmp"))


def test_happy_path_downloads_verifies_and_caches(server, cache, monkeypatch):
    files = make_files()
    info = info_for(files, (server.url + "/a/",))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    server.serve(files, "/a/")
    seen = []
    data = loader.load_dataset("mnist", progress=seen.append)
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (10, 784) and data.t_train.shape == (30,)
    assert data.x_train.dtype == np.uint8
    folder = cache / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [FILENAMES[k] for k in files] + [loader.decoded_path(folder, info.file(k)).name for k in files])
    assert {p.file for p in seen} == set(FILENAMES.values())
    last = {p.file: p for p in seen}
    assert all(last[f.name].done == f.size == last[f.name].total for f in info.files)
    hits = dict(server.hits)
    again = loader.load_dataset("mnist")  # from the decoded cache: no requests
    assert server.hits == hits
    np.testing.assert_array_equal(again.x_train, data.x_train)
    assert loader.verify_cached(info) == {f.name: "ok" for f in info.files}


def test_first_mirror_404_then_second_succeeds(server, cache, monkeypatch):
    files = make_files()
    info = info_for(files, (server.url + "/gone/", server.url + "/b/"))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    server.serve(files, "/b/")
    data = loader.load_dataset("mnist")
    assert len(data.x_train) == 30
    assert server.hits[f"/gone/{FILENAMES['train_images']}"] == 1  # a 404 is not retried


def test_checksum_mismatch_on_every_mirror(server, cache, monkeypatch):
    files = make_files()
    info = info_for(files, (server.url + "/a/", server.url + "/b/"))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    tampered = bytearray(files["train_images"])
    tampered[-1] ^= 0xFF
    for base in ("/a/", "/b/"):
        server.routes[base + FILENAMES["train_images"]] = bytes(tampered)
    with pytest.raises(DatasetError) as exc:
        loader.load_dataset("mnist")
    message = str(exc.value)
    assert f"{server.url}/a/{FILENAMES['train_images']}: SHA-256 mismatch" in message
    assert f"{server.url}/b/{FILENAMES['train_images']}: SHA-256 mismatch" in message
    assert "--data-dir" in message
    assert list((cache / "mnist").iterdir()) == []  # nothing unverified is kept


def test_connection_dropped_mid_file_is_retried(server, tmp_path):
    files = make_files(n_train=200)
    data = files["train_images"]
    info = info_for(files, (server.url + "/a/",))
    server.routes["/a/" + FILENAMES["train_images"]] = lambda h, hit: drop_after(data, 1000)(h, hit) if hit == 1 else data
    path = download(info, info.file("train_images"), tmp_path, backoff=0)
    assert path.read_bytes() == data and server.hits["/a/" + FILENAMES["train_images"]] == 2
    assert leftovers(tmp_path) == []


def test_connection_always_dropping_fails_cleanly(server, tmp_path):
    files = make_files(n_train=200)
    info = info_for(files, (server.url + "/a/",))
    server.routes["/a/" + FILENAMES["train_images"]] = drop_after(files["train_images"], 1000)
    with pytest.raises(DownloadError) as exc:
        download(info, info.file("train_images"), tmp_path, attempts=2, backoff=0)
    assert "connection closed after 1,000" in str(exc.value) and "(2 attempts)" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_stalled_server_times_out(server, tmp_path):
    files = make_files()
    info = info_for(files, (server.url + "/a/",))
    server.routes["/a/" + FILENAMES["train_labels"]] = stall(server)
    with pytest.raises(DownloadError) as exc:
        download(info, info.file("train_labels"), tmp_path, timeout=0.3, attempts=1, backoff=0)
    assert "no answer within 0.3 s" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_gzip_with_matching_checksum_is_removed(server, cache, monkeypatch):
    files = make_files()
    files["test_labels"] = files["test_labels"][:20] + b"\x00" * 30  # a broken gzip stream
    info = info_for(files, (server.url + "/a/",))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    server.serve(files, "/a/")
    with pytest.raises(DatasetError) as exc:
        loader.load_dataset("mnist")
    assert FILENAMES["test_labels"] in str(exc.value) and "corrupt gzip" in str(exc.value)
    assert not (cache / "mnist" / FILENAMES["test_labels"]).exists()
    assert leftovers(cache / "mnist") == []


def test_no_download_when_not_allowed(cache, monkeypatch):
    with pytest.raises(DatasetError) as exc:
        loader.load_dataset("mnist", download_missing=False)
    assert "python -m engine data fetch mnist" in str(exc.value) and "--data-dir" in str(exc.value)


def test_damaged_decoded_cache_is_rebuilt(server, cache, monkeypatch):
    files = make_files()
    info = info_for(files, (server.url + "/a/",))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    server.serve(files, "/a/")
    first = loader.load_dataset("mnist")
    decoded = loader.decoded_path(cache / "mnist", info.file("train_images"))
    decoded.write_bytes(decoded.read_bytes()[:100])
    again = loader.load_dataset("mnist")
    np.testing.assert_array_equal(again.x_train, first.x_train)


def test_local_folder_unverified_file_warns(tmp_path):
    rng = np.random.default_rng(1)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", rng.integers(0, 10, 20, dtype=np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 5, dtype=np.uint8))
    with pytest.warns(loader.UnverifiedDataWarning, match="could not be verified"):
        data = loader.load_dataset("mnist", data_dir=tmp_path)
    assert data.x_train.shape == (20, 784) and data.class_names == tuple("0123456789")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="missing t10k-labels-idx1-ubyte.gz"), warnings.catch_warnings():
        warnings.simplefilter("ignore", loader.UnverifiedDataWarning)
        loader.load_dataset("mnist", data_dir=tmp_path)


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKPROP_TUI_DATA", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert loader.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("BACKPROP_TUI_DATA")
    assert loader.cache_dir() == tmp_path / "x" / "backprop-tui"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert loader.cache_dir() == tmp_path / "home" / ".cache" / "backprop-tui"


def test_load_mnist_book_shapes(server, cache, monkeypatch):
    files = make_files()
    monkeypatch.setitem(registry.REGISTRY, "mnist", info_for(files, (server.url + "/a/",)))
    server.serve(files, "/a/")
    (x, t), (xt, tt) = loader.load_mnist()
    assert x.shape == (30, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and t.shape == (30,)
    (x, t), _ = loader.load_mnist(normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (30, 1, 28, 28) and x.dtype == np.uint8 and t.shape == (30, 10)
    np.testing.assert_array_equal(t.sum(axis=1), 1)


def test_data_commands_fetch_list_verify(server, cache, monkeypatch, capsys):
    from engine.cli import main

    files = make_files()
    info = info_for(files, (server.url + "/a/",))
    monkeypatch.setitem(registry.REGISTRY, "mnist", info)
    server.serve(files, "/a/")
    assert main(["data", "fetch", "mnist"]) == 0
    assert "Test MNIST: 30 train / 10 test images" in capsys.readouterr().out
    assert main(["data", "list", "mnist"]) == 0
    assert "4/4 files  ready" in capsys.readouterr().out
    assert main(["data", "verify", "mnist"]) == 0
    assert capsys.readouterr().out.count(" ok\n") == 4
    cached = cache / "mnist" / FILENAMES["train_labels"]
    tampered = bytearray(cached.read_bytes())
    tampered[-1] ^= 1
    cached.write_bytes(bytes(tampered))
    assert main(["data", "verify", "mnist"]) == 1
    assert "SHA-256 mismatch: removed" in capsys.readouterr().out
    assert not cached.exists()
    assert main(["data", "fetch", "mnist"]) == 0  # fetched again, verified
    assert cached.read_bytes() == files["train_labels"]


def test_warnings_can_go_to_a_callback(tmp_path):
    rng = np.random.default_rng(2)
    for name, shape in [("train-images-idx3-ubyte.gz", (4, 28, 28)), ("train-labels-idx1-ubyte.gz", (4,)),
                        ("t10k-images-idx3-ubyte.gz", (2, 28, 28)), ("t10k-labels-idx1-ubyte.gz", (2,))]:
        write_idx(tmp_path / name, rng.integers(0, 10, shape, dtype=np.uint8))
    heard = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing goes through the warnings module
        loader.load_dataset("mnist", data_dir=tmp_path, warn=heard.append)
    assert len(heard) == 4 and all("could not be verified" in m for m in heard)
