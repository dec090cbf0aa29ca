"""Screenshots of the real app, driven headless on real MNIST digits.

Run from anywhere:  python scripts/screenshots.py  [--out DIR]

What it does:

* builds a local MNIST folder in a temporary directory from the shared test
  set (../shared/data/mnist relative to the repo root): the first 8,000 t10k
  digits become the training set and the last 2,000 the test set, written as
  the four standard files with engine.idx.write_idx. The shared files are only
  read, never copied into the repo. Without ../shared the script exits with 1.
* starts BackpropApp(LocalSession(config, folder)) under App.run_test (headless,
  120x40, notifications on), with a gradient check every 500 iterations;
* presses space to train, ] at ~1,200 iterations (lr 0.1 -> 0.2) and [ at
  ~2,400 (back to 0.1) so the loss plot shows its change markers, pauses at
  ~3,500 iterations, presses g for a gradient check and e for an evaluation
  at that iteration;
* saves, with the trainer paused so every frame is stable:
    main.svg          monitor tab, 120x40, mid-training (paused)
    help.svg          the help screen (?), 120x40
    settings.svg      the settings tab, 120x40
    small-80x24.svg   the monitor tab at 80x24 (narrow layout)
    digits.svg        the digits tab at 80x24, mistakes only, a mistake selected (at 120x40 the
                      half-block digits make an SVG of over 500 KB: one element per cell)
    errors.svg        the errors tab at 80x24: confusion matrix and the worst mistakes
    layers.svg        the layers tab at 80x24: histograms, gradient norms, weight images
    graph.svg         the graph tab at 80x24, the backward pass three nodes in
    graph-reuse.svg   the graph tab at 80x24: b = a + a, c = b · b, the whole backward pass (d a = 12 + 12)
    backprop.svg      the backprop tab, 120x40, on a mistake: the loss's gradient, and "Why this digit?"
    backprop-dw1.svg  the same lesson at 80x24, Affine1's backward step scrolled to dW1 (one image per unit)
    lab.svg           the lab tab, 120x40: "SoftmaxWithLoss.backward without / N" caught, with its hint and error map
    runs.svg          the run browser, 120x40, this run and an earlier one (lr 0.02) overlaid
    tensorboard.svg   python -m tui --view at 120x32 (only this one with --tensorboard-only): two runs
                      (lr 0.1 and 0.02, 3,500 iterations) exported with engine export --tensorboard,
                      their test accuracy overlaid

Pilot.press waits for the process to look idle (up to ~1 s per wait, twice per
key), and the trainer is CPU-bound, so keys pressed during training go through
App.simulate_key (the same binding dispatch, without the wait), progress is
polled from the app's MonitorState with short pilot.pause() sleeps, and the
trainer is paused (space) before any screenshot.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.config import TrainConfig  # noqa: E402
from engine.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, write_idx  # noqa: E402
from engine.loader import UnverifiedDataWarning  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
TRAIN_SIZE = 8000
SIZE, SMALL = (120, 40), (80, 24)


def build_folder(folder: Path) -> None:
    """The 8k/2k split of the shared t10k set as the four standard IDX files in `folder`."""
    images_path = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    labels_path = SHARED_MNIST / "t10k-labels-idx1-ubyte.gz"
    if not (images_path.is_file() and labels_path.is_file()):
        sys.exit(f"screenshots: the shared MNIST test set is missing: expected {images_path} and {labels_path} "
                 "(../shared/data/mnist relative to the repo root). Nothing was written.")
    images, labels = read_idx(images_path, IMAGES_MAGIC), read_idx(labels_path, LABELS_MAGIC)
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:TRAIN_SIZE])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:TRAIN_SIZE])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[TRAIN_SIZE:])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[TRAIN_SIZE:])


async def wait_until(pilot, predicate, what: str, timeout: float = 120.0, step: float = 0.2) -> None:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"screenshots: gave up waiting for {what} after {timeout:.0f} s")
        await pilot.pause(step)


async def train_to(pilot, app, iteration: int) -> None:
    await wait_until(pilot, lambda: app.monitor.iteration >= iteration or app.monitor.state != "running",
                     f"iteration {iteration:,}")
    if app.monitor.state != "running":
        raise RuntimeError(f"screenshots: training stopped early ({app.monitor.state}: {app.monitor.message})")


async def tap(pilot, app, key: str) -> None:
    """Press a key while the trainer runs: Pilot.press would wait up to ~2 s for an idle CPU."""
    app.simulate_key(key)
    await pilot.pause(0.1)


async def pause_training(pilot, app) -> None:
    await tap(pilot, app, "space")
    await wait_until(pilot, lambda: app.monitor.state == "paused", "the pause")
    await pilot.pause(0.5)  # a few ticks: the queue drained, plots and status redrawn


async def shoot(pilot, app, out: Path, name: str) -> None:
    app.clear_notifications()  # the start-up toast about the re-split data would cover the table
    await pilot.pause(0.4)
    app.save_screenshot(name, str(out))
    print(f"  {out / name}")


def earlier_run(folder: Path, runs: Path, config: TrainConfig) -> None:
    """A finished run in `runs`, trained headless, as `python -m engine train` leaves one."""
    from engine.loader import load_dataset
    from engine.runs import RunLog, new_run_dir
    from engine.trainer import Trainer

    dataset = load_dataset("mnist", str(folder))
    architecture = "-".join(map(str, (dataset.input_size, *config.hidden_sizes, dataset.num_classes)))
    log = RunLog(new_run_dir(runs, config, architecture))
    trainer = Trainer(dataset, config, log)
    log.attach(trainer)
    trainer.start()
    trainer.join()
    log.save_now(trainer.checkpoint())
    log.close()
    time.sleep(1)  # run names carry the start second


async def run(folder: Path, out: Path) -> None:
    from tui.app import BackpropApp
    from tui.panes import BackpropPane
    from tui.session import LocalSession

    config = TrainConfig(iters=20_000, gradcheck_every=500)
    runs = folder / "runs"
    earlier_run(folder, runs, config.with_changes(lr=0.02, iters=3500))  # for the run browser to compare
    app = BackpropApp(LocalSession(config, str(folder), runs_dir=str(runs)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.session.trainer is not None and app.monitor.state == "idle",
                         "the dataset to load")
        await tap(pilot, app, "space")
        await train_to(pilot, app, 1200)
        await tap(pilot, app, "right_square_bracket")  # lr 0.1 -> 0.2
        await train_to(pilot, app, 2400)
        await tap(pilot, app, "left_square_bracket")  # lr 0.2 -> 0.1
        await train_to(pilot, app, 3500)
        await pause_training(pilot, app)
        stop_at = app.monitor.iteration
        await pilot.press("g")
        await wait_until(pilot, lambda: app.monitor.gradcheck_iteration == stop_at, "the gradient check")
        await pilot.press("e")  # accuracy and digits at exactly this iteration
        await wait_until(pilot, lambda: app.monitor.samples is not None and app.monitor.samples.iteration == stop_at,
                         "the evaluation")
        await pilot.pause(0.5)
        print(f"paused at iteration {stop_at:,}, test accuracy {app.monitor.latest_accuracy[1]:.2%}")
        await shoot(pilot, app, out, "main.svg")

        await pilot.press("question_mark")
        await shoot(pilot, app, out, "help.svg")
        await pilot.press("escape")

        await pilot.press("3")
        await shoot(pilot, app, out, "settings.svg")
        await pilot.press("escape", "1")

        await pilot.resize_terminal(*SMALL)
        await pilot.pause(0.5)
        await shoot(pilot, app, out, "small-80x24.svg")
        await pilot.press("2", "m", "down")  # digits tab, mistakes only, the second mistake
        await shoot(pilot, app, out, "digits.svg")
        await pilot.press("m", "4", "down", "down")  # the confusion matrix, the cursor on a cell
        await shoot(pilot, app, out, "errors.svg")
        await pilot.press("5")
        await shoot(pilot, app, out, "layers.svg")
        await pilot.press("6")
        await pilot.pause(0.3)
        await pilot.press("b", "b", "b")  # the backward pass three nodes in
        await shoot(pilot, app, out, "graph.svg")
        await pilot.press("v", "v", "a")  # the third example: a value used twice, its two paths added up
        await shoot(pilot, app, out, "graph-reuse.svg")

        await pilot.resize_terminal(*SIZE)
        await pilot.press("2", "m", "down", "7")  # the lesson on the second mistake of the preview
        await wait_until(pilot, lambda: app.query_one(BackpropPane).lesson is not None, "the backprop lesson")
        await pilot.press("f", "f", "f", "f", "b")  # the forward pass, then the loss's gradient
        await shoot(pilot, app, out, "backprop.svg")
        await pilot.press("b", "b", "b")  # back to Affine1: dx, and dW1 as one image per unit
        await pilot.resize_terminal(*SMALL)
        await pilot.pause(0.3)
        app.query_one(BackpropPane).body.scroll_to(y=36, animate=False)
        await shoot(pilot, app, out, "backprop-dw1.svg")
        await pilot.resize_terminal(*SIZE)
        await pilot.press("m")

        await pilot.press("8")  # the lab: "no / N" put into a copy, and checked on three digits
        await wait_until(pilot, lambda: app.monitor.parameters is not None, "the lab's parameters")
        await pilot.press("down", "down", "enter", "g")
        await shoot(pilot, app, out, "lab.svg")

        await pilot.press("1", "o")
        await wait_until(pilot, lambda: len(getattr(app.screen, "runs", ())) == 2, "the run browser")
        await pilot.press("space", "down", "space")  # both runs marked: their curves overlaid
        await wait_until(pilot, lambda: all(run.curves is not None for run in app.screen.runs), "their curves")
        await shoot(pilot, app, out, "runs.svg")

        app.session.stop()
        app.exit()


async def tensorboard_view(folder: Path, out: Path) -> None:
    """Two runs trained headless, exported as TensorBoard files into one folder, shown by the viewer."""
    from engine.tensorboard_export import export_tensorboard
    from tui.screens.tensorboard_screen import TensorBoardScreen
    from tui.view_app import ViewApp

    runs, logdir = folder / "runs", folder / "tensorboard"
    for lr in (0.1, 0.02):
        earlier_run(folder, runs, TrainConfig(iters=3500, gradcheck_every=500, lr=lr))
        newest = max(runs.iterdir())  # run names begin with their start time
        export_tensorboard(newest, logdir / f"lr {lr}", host="screenshots")
    app = ViewApp(logdir)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TensorBoardScreen)
                         and len(app.screen.state.runs()) == 2 and app.screen.events.caught_up, "the two runs")
        await pilot.pause(0.5)
        await pilot.press("home")  # from loss to accuracy/test: the two runs overlaid
        await pilot.pause(0.6)
        await shoot(pilot, app, out, "tensorboard.svg")
        app.exit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="folder for the SVGs")
    parser.add_argument("--tensorboard-only", action="store_true",
                        help="only tensorboard.svg (two runs exported and shown by python -m tui --view)")
    parser.add_argument("--data-only", type=Path, metavar="DIR",
                        help="only write the 8k/2k MNIST folder into DIR (for python -m tui --data-dir DIR)")
    args = parser.parse_args()
    if args.data_only:
        args.data_only.mkdir(parents=True, exist_ok=True)
        build_folder(args.data_only)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    # Our 8k/2k split matches no published checksum by design; the loader's warning is expected.
    warnings.filterwarnings("ignore", category=UnverifiedDataWarning)
    with tempfile.TemporaryDirectory(prefix="backprop-screens-") as tmp:
        build_folder(Path(tmp))
        asyncio.run((tensorboard_view if args.tensorboard_only else run)(Path(tmp), args.out))
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
