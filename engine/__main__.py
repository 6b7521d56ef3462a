"""The headless CLI: `python -m engine <verb>`, mirroring each page's core action.

    python -m engine train --model cnn --dataset mnist --epochs 1
    python -m engine runs list | show ID | export ID --csv [--out FILE]
    python -m engine <verb> --help       (verbs of the pages: engine/commands/)

Results go to stdout as JSON (one line for `train`); progress and errors go to stderr. Bad
arguments exit with status 2 and a message; a run that diverges or fails exits with status 1.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys

from engine.core.params import ParamError


def _catalogue() -> str:
    """The --help epilog: models with their params, and datasets, straight from the registries."""
    import engine.models  # noqa: F401  (registers the built-in models)
    from engine.core.registry import TRAINING_PARAMS, list_specs
    from engine.data import list_datasets

    def describe(p) -> str:
        if p.kind == "choice":
            rng = "|".join(str(c) for c in p.choices)
        elif p.kind == "bool":
            rng = "true|false"
        elif p.kind == "int":
            rng = f"{int(p.low)}..{int(p.high)}" + (" log" if p.log else "")
        else:
            rng = f"{p.low:g}..{p.high:g}" + (" log" if p.log else "")
        when = f" (only when {p.needs()})" if p.when else ""
        return f"    {p.name:<17} {p.kind:<6} default {p.default!s:<8} {rng:<22} {p.help}{when}"

    lines = ["models (--model NAME, then --set key=value for its params):"]
    for spec in list_specs():
        lines.append(f"  {spec.name}: {spec.title} [{', '.join(spec.data_kinds)} data]")
        lines += [describe(p) for p in spec.params]
    lines.append("training settings (flags below, or --set key=value):")
    lines += [describe(p) for p in TRAINING_PARAMS]
    lines.append("datasets (--dataset NAME, options with --option key=value):")
    for info in list_datasets(include_unavailable=True):
        note = "" if info.available else f"  [not installed: {info.hint}]"
        lines.append(f"  {info.name}: {info.title}{note}")
        lines += [describe(p) for p in info.params]
    return "\n".join(lines)


def _key_values(pairs: list[str], flag: str) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"{flag} expects key=value, got {pair!r}")
        values[key.strip()] = value.strip()
    return values


def _parser(with_catalogue: bool) -> argparse.ArgumentParser:
    epilog = _catalogue() if with_catalogue else None
    parser = argparse.ArgumentParser(prog="python -m engine", description="Deep Playground engine, headless.",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="data dir (default: $DEEP_PLAYGROUND_DATA or ~/.cache/deep-playground)")
    verbs = parser.add_subparsers(dest="verb", required=True)

    train = verbs.add_parser("train", help="train a registered model into the run store",
                             epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--model", required=True)
    train.add_argument("--dataset", required=True)
    train.add_argument("--epochs")
    train.add_argument("--lr")
    train.add_argument("--batch-size")
    train.add_argument("--optimizer")
    train.add_argument("--seed")
    train.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps; or $DEEP_PLAYGROUND_DEVICE")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model or training param")
    train.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a dataset option")
    train.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    runs = verbs.add_parser("runs", help="list, show or export runs")
    runs_verbs = runs.add_subparsers(dest="runs_verb", required=True)
    listing = runs_verbs.add_parser("list")
    listing.add_argument("--limit", type=int)
    show = runs_verbs.add_parser("show")
    show.add_argument("run_id", type=int)
    export = runs_verbs.add_parser("export")
    export.add_argument("run_id", type=int)
    export.add_argument("--csv", action="store_true", required=True, help="metrics as CSV (one row per step)")
    export.add_argument("--out", help="file to write (default: stdout)")
    for command in _commands():
        command.add_parser(verbs)
    return parser


def _commands() -> list:
    """The page verbs (saliency, embed, attention, latent-grid, ...): one module each in
    engine/commands, with `add_parser(verbs)` that sets `func` (args -> exit status)."""
    import importlib
    import pkgutil

    import engine.commands
    return [importlib.import_module(f"engine.commands.{m.name}")
            for m in sorted(pkgutil.iter_modules(engine.commands.__path__), key=lambda m: m.name)]


def _store(args):
    from engine.core.paths import runs_dir
    from engine.core.runs import RunStore
    return RunStore(runs_dir(args.data_dir))


def _run_json(run) -> dict:
    return {"run_id": run.id, "model": run.model, "dataset": run.dataset, "status": run.status,
            "message": run.message, "created": run.created, "updated": run.updated,
            "params": run.params, "final": run.final}


def cmd_train(args) -> int:
    from engine.core.device import describe, pick_device
    from engine.core.registry import validate
    from engine.core.trainer import TrainingJob

    values = _key_values(args.set, "--set")
    for flag in ("epochs", "lr", "batch_size", "optimizer", "seed"):
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    config = validate(args.model, args.dataset, values, _key_values(args.option, "--option"))
    device = pick_device(args.device)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))

    def report(p):
        figures = ", ".join(f"{k} {v:.4f}" for k, v in p.final.items() if k.startswith(("train_", "val_")))
        log(f"epoch {p.epoch}/{p.epochs}: {figures}, {p.samples_per_s:.0f} samples/s")

    job = TrainingJob(config, _store(args), device=device, data_dir=args.data_dir, on_epoch=report)
    log(f"run {job.run_id}: {config.model} on {config.dataset}, {describe(device)}")
    # Ctrl-C / SIGTERM stop the run cleanly (status "stopped", checkpoints kept): the handler runs
    # between two steps of the loop. The CLI trains in its main thread: on CPU, PyTorch's OpenMP
    # kernels run 10-30 % slower from a secondary thread (bench/trainer_overhead.py measures both).
    # The pages can stop, pause and step this run too: their commands reach it through the store.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: job.interrupt())
    job.run()
    p = job.progress
    print(json.dumps({"run_id": job.run_id, "status": p.status, "model": config.model,
                      "dataset": config.dataset, "device": str(device), "final": p.final,
                      "message": p.message}))
    if p.status != "completed":
        print(f"run {job.run_id} {p.status}: {p.message}", file=sys.stderr)
    return 0 if p.status in ("completed", "stopped") else 1


def cmd_runs(args) -> int:
    store = _store(args)
    if args.runs_verb == "list":
        for run in store.list_runs(args.limit):
            print(json.dumps({k: v for k, v in _run_json(run).items() if k != "params"}))
    elif args.runs_verb == "show":
        run = store.get_run(args.run_id)
        info = _run_json(run)
        info["checkpoint_epochs"] = store.checkpoint_epochs(run.id)
        print(json.dumps(info, indent=2))
    else:
        text = store.export_csv(store.get_run(args.run_id).id)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The catalogue imports every model; build it only when help is asked for.
    parser = _parser(with_catalogue=any(a in ("-h", "--help") for a in argv))
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "func"):
            return args.func(args)
        return cmd_train(args) if args.verb == "train" else cmd_runs(args)
    except (ParamError, ValueError, KeyError, FileNotFoundError, IsADirectoryError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
