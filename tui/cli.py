"""`python -m tui`: the same training flags as `python -m engine train`, defined once in engine.options."""
from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys

from engine.checkpoint import CheckpointError
from engine.config import ConfigError
from engine.options import add_run_options, add_training_options, checkpoint_policy, config_from_args, describe
from engine.run_lock import RunBusy, holder
from engine.runs import resolve_run, runs_dir_problem

from .options import add_ui_options, ui_options_from_args

EXIT_USAGE = 2
NO_TERMINAL = ("python -m tui needs a terminal ({why}); to train without one, run python -m engine train "
               "(same flags), or python -m tui --serve for a browser")
SERVE_FLAGS = ("--serve", "--host", "--port")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,  # --serve passes the other flags on to each browser's app: no --serv, --po
        prog="python -m tui",
        description="Train a from-scratch NumPy network and watch it live. Press ? in the app for every key.",
        epilog="python -m tui show RUN [--width W] [--height H] [--ascii] prints a run's plots and last "
               "gradient check once (python -m tui show --help).",
    )
    add_training_options(parser)
    add_run_options(parser)
    parser.add_argument("--attach", metavar="RUN",
                        help="follow a run that another process (python -m engine train, or another python -m tui) "
                        "is writing, and steer it: pause, resume, step, learning rate, checkpoint")
    parser.add_argument("--view", metavar="LOGDIR",
                        help="show a folder of TensorBoard event files (a PyTorch SummaryWriter's, TensorFlow's, or "
                        "python -m engine export --tensorboard): every scalar tag, read-only, following new events")
    add_ui_options(parser)
    web = parser.add_argument_group("browser (needs the web extra: pip install 'backprop-tui[web]')")
    web.add_argument("--serve", action="store_true",
                     help="serve the app to a web browser with textual-serve instead of drawing it here")
    web.add_argument("--host", default="127.0.0.1",
                     help="with --serve: the address to listen on (default: %(default)s, this machine only)")
    web.add_argument("--port", type=int, default=8000, help="with --serve: the port (default: %(default)s)")
    return parser


def no_terminal() -> str | None:
    """Why the app cannot draw here (None when it can). The browser's driver needs no terminal."""
    if os.environ.get("TEXTUAL_DRIVER"):  # textual-serve runs the app with its web driver on pipes
        return None
    if os.environ.get("TERM", "") == "dumb":
        return "TERM=dumb"
    for name, stream in (("stderr", sys.__stderr__), ("stdin", sys.stdin)):  # Textual draws on stderr
        try:
            if stream is None or not stream.isatty():
                return f"{name} is not a terminal"
        except (AttributeError, ValueError):  # closed or replaced
            return f"{name} is not a terminal"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(argv: list[str]) -> str:
    """The command textual-serve runs for each browser: this one, without the serve flags."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in SERVE_FLAGS:
            skip = name != "--serve" and "=" not in arg
            continue
        kept.append(arg)
    return shlex.join([sys.executable, "-m", "tui", *kept])


def serve(argv: list[str], host: str, port: int) -> int:
    try:
        from .serve import GuardedServer  # textual-serve, an optional extra, loads only here
    except ImportError:
        print("error: --serve needs textual-serve: pip install 'backprop-tui[web]' (or pip install textual-serve)",
              file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(host):
        print(f"warning: serving on {host} over plain HTTP: the token and the session cross the network "
              "unencrypted, and whoever sees the token can watch and steer training. To keep it private, use the "
              f"default 127.0.0.1 and an SSH tunnel: ssh -L {port}:127.0.0.1:{port} SERVER", file=sys.stderr)
    try:
        GuardedServer(app_command(argv), host=host, port=port, title="backprop-tui").serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's: one line, no traceback
        print(f"error: --serve: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["show"]:  # python -m tui show RUN: print a run once, no app
        from .show import main as show

        return show(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        parser.error(describe(exc))  # exits with status 2
    try:
        ui = ui_options_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.resume and args.attach:
        parser.error("argument --attach: not allowed with --resume")
    if args.view is not None and (args.resume or args.attach):
        parser.error("argument --view: not allowed with --resume or --attach")
    if args.view is not None and not os.path.isdir(args.view):
        parser.error(f"argument --view: {args.view} is not a folder")
    if not 0 < args.port < 65536:
        parser.error(f"argument --port: expected 1 to 65535, got {args.port}")
    runs = {}
    for flag in ("resume", "attach"):
        if getattr(args, flag) is not None:
            try:
                runs[flag] = resolve_run(getattr(args, flag), args.runs_dir)
            except CheckpointError as exc:
                parser.error(f"argument --{flag}: {exc}")
    if "resume" in runs and (pid := holder(runs["resume"])) is not None:
        parser.error(f"argument --resume: {RunBusy(runs['resume'], pid)}")
    if not runs and args.view is None and (problem := runs_dir_problem(args.runs_dir)):
        parser.error(f"argument --runs-dir: {problem}")
    if args.serve:
        return serve(argv, args.host, args.port)
    if (why := no_terminal()) is not None:
        print(NO_TERMINAL.format(why=why), file=sys.stderr)
        return EXIT_USAGE
    # Textual loads only once the arguments are known to be good.
    if args.view is not None:
        from .view_app import ViewApp

        app = ViewApp(args.view, ascii=ui.ascii)
        app.run()
        return app.return_code or 0
    from .app import BackpropApp
    from .session import AttachedSession, LocalSession

    try:
        if "attach" in runs:
            session = AttachedSession(config, runs["attach"], args.runs_dir)
        else:
            session = LocalSession(config, args.data_dir, runs_dir=args.runs_dir, checkpoints=checkpoint_policy(args),
                                   resume=runs.get("resume"))
    except (RunBusy, OSError) as exc:  # started at the same moment as another resume of the run
        parser.error(f"argument --resume: {exc}")
    app = BackpropApp(session, ui)
    try:
        app.run()
    finally:  # however the app ended (a browser tab closed, Textual's own exit): save where the run stopped
        session.stop()
    if (failure := session.write_failure) is not None:
        print(f"warning: the last checkpoint was not written: {failure.path}: {failure.message}", file=sys.stderr)
    return app.return_code or 0
