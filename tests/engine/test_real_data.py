"""Real published files: the shared MNIST t10k set and Debian's Fashion-MNIST. Each skips when absent."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from engine import loader
from engine.dataset import DatasetError
from engine.idx import read_idx
from engine.registry import REGISTRY
from tests.conftest import SHARED_MNIST

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
T10K_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not present")
def test_shared_mnist_files_match_published_checksums():
    mnist = REGISTRY["mnist"]
    for kind in ("test_images", "test_labels", "train_labels"):
        remote = mnist.file(kind)
        path = SHARED_MNIST / remote.name
        assert path.stat().st_size == remote.size
        assert loader.sha256_file(path) == remote.sha256
        assert loader.check_local_file(path, remote) == "verified"
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.reshape(len(images), -1).shape == (10000, 784)
    assert np.bincount(labels).tolist() == T10K_LABEL_COUNTS
    assert len(read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")) == 60000


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not present")
def test_shared_mnist_folder_without_train_images_names_the_missing_file():
    with pytest.raises(DatasetError, match="missing train-images-idx3-ubyte.gz"):
        loader.load_dataset("mnist", data_dir=SHARED_MNIST)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_recompressed_fashion_mnist_is_verified_by_raw_sha256():
    fashion = REGISTRY["fashion-mnist"]
    for remote in fashion.files:
        path = DEBIAN_FASHION / remote.name
        assert loader.sha256_file(path) != remote.sha256  # the gzip wrapper was rewritten
        assert loader.check_local_file(path, remote) == "verified-raw"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified files raise no warning
        data = loader.load_dataset("fashion-mnist", data_dir=DEBIAN_FASHION)
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.class_names[9] == "Ankle boot"
    assert np.bincount(data.t_train).tolist() == [6000] * 10
