"""The MNIST-family datasets we know: mirrors, file sizes and checksums, class names, licences.

Facts from torchvision, tensorflow-datasets and the datasets' authors (see
../shared/data/CHECKSUMS.md). `raw_sha256` is the SHA-256 of the decompressed IDX
bytes: it identifies a file whose gzip wrapper was rewritten (Debian's packages).
"""
from __future__ import annotations

from dataclasses import dataclass

FILENAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class RemoteFile:
    kind: str
    size: int
    md5: str
    sha256: str
    raw_sha256: str | None = None  # None where not known

    @property
    def name(self) -> str:
        return FILENAMES[self.kind]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    mirrors: tuple[str, ...]  # base URLs, tried in order
    files: tuple[RemoteFile, ...]
    class_names: tuple[str, ...]
    licence: str

    def file(self, kind: str) -> RemoteFile:
        return next(f for f in self.files if f.kind == kind)


REGISTRY = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            title="MNIST",
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            files=(
                RemoteFile("train_images", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                           "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                RemoteFile("train_labels", 28881, "d53e105ee54ea40749a09fcbcd1e9432",
                           "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                           "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
                RemoteFile("test_images", 1648877, "9fb629c4189551a2d022fa330f9573f3",
                           "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                           "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
                RemoteFile("test_labels", 4542, "ec29112dd5afa0611ce80d1b7f02629c",
                           "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                           "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
            ),
            class_names=tuple("0123456789"),
            licence="MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0",
        ),
        DatasetInfo(
            name="fashion-mnist",
            title="Fashion-MNIST",
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            files=(
                RemoteFile("train_images", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                           "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                           "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                RemoteFile("train_labels", 29515, "25c81989df183df01b3e8a0aad5dffbe",
                           "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                           "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                RemoteFile("test_images", 4422102, "bef4ecab320f06d8554ea6380940ec79",
                           "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                           "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                RemoteFile("test_labels", 5148, "bb300cfdad3c16e7a12a480ee83cd310",
                           "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                           "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            ),
            class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            licence="Fashion-MNIST: Zalando SE, MIT",
        ),
        DatasetInfo(
            name="kmnist",
            title="Kuzushiji-MNIST",
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            files=(
                RemoteFile("train_images", 18165135, "bdb82020997e1d708af4cf47b453dcf7",
                           "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
                RemoteFile("train_labels", 29497, "e144d726b3acfaa3e44228e80efcd344",
                           "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
                RemoteFile("test_images", 3041136, "5c965bf0a639b31b8f53240b1b52f4d7",
                           "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
                RemoteFile("test_labels", 5120, "7320c461ea6c1c855c0b718fb2a4b134",
                           "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
            ),
            # The ten hiragana, romanised so every terminal can show them: お き す つ な は ま や れ を
            class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            licence="KMNIST: CODH / ROIS-DS Center for Open Data in the Humanities, CC BY-SA 4.0",
        ),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}") from None
