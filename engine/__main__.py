"""The headless CLI: `python -m engine <verb>`, mirroring each page's core action.

    python -m engine train --model cnn --dataset mnist --epochs 1
    python -m engine train --model mlp --points my.csv      (your own 2D points: x,y,label)
    python -m engine train --model transfer --images DIR    (your own photos, one folder per class)
    python -m engine train --model cnn --dataset mnist --nproc 2   (one run over 2 processes: torchrun, DDP)
    python -m engine runs list | show ID | export ID --csv [--out FILE]
    python -m engine runs check | recover | clean-up [--dry-run]
    python -m engine <verb> --help       (verbs of the pages: engine/commands/)

Results go to stdout as JSON (one line for `train`); progress and errors go to stderr. Bad
arguments, and a run store that cannot be used (damaged, read-only), exit with status 2 and a
one-line message; a run that diverges or fails, and `runs check` finding damage, exit with status 1.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys

from engine.core import arguments
from engine.core.params import ParamError
from engine.core.runs import RunStoreError


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit status 2, like every other error
    a person makes here (argparse would print the usage block and exit from inside parse_args).
    Its sub-parsers (the verbs) are made of this class too."""

    def error(self, message: str):
        raise ParamError(f"{message} (see {self.prog} --help)")


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


# Training params that have a flag of their own (the rest go through --set), in train and sweep.
TRAIN_FLAGS = ("epochs", "lr", "batch_size", "optimizer", "seed")


def add_run_flags(parser) -> None:
    """The flags that set a run's params, shared by `train` and `sweep`."""
    for flag in TRAIN_FLAGS:
        parser.add_argument(f"--{flag.replace('_', '-')}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model or training param")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a dataset option")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run_values(args) -> dict[str, str]:
    """The params the run flags set: --set's pairs, then the flags given (they win)."""
    values = _key_values(args.set, "--set")
    values.update({flag: getattr(args, flag) for flag in TRAIN_FLAGS if getattr(args, flag) is not None})
    return values


def _parser(with_catalogue: bool) -> argparse.ArgumentParser:
    epilog = _catalogue() if with_catalogue else None
    parser = _Parser(prog="python -m engine", description="Deep Playground engine, headless.",
                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="data dir (default: $DEEP_PLAYGROUND_DATA or ~/.cache/deep-playground)")
    verbs = parser.add_subparsers(dest="verb", required=True)

    train = verbs.add_parser("train", help="train a registered model into the run store",
                             epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--model", required=True)
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset")
    data.add_argument("--points", metavar="CSV", help="your own 2D points: a CSV with the columns x, y and label "
                      "(two classes); saved as a dataset points-<hash> that --dataset names later")
    data.add_argument("--images", metavar="DIR", help="your own photos: a folder (or a .zip) with one sub-folder "
                      "per class, for --model transfer; saved as a dataset images-<hash> that --dataset names later")
    add_run_flags(train)
    train.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps; or $DEEP_PLAYGROUND_DEVICE")
    scale = train.add_argument_group("one run over several processes (torchrun, DistributedDataParallel; "
                                     "batch-size is per process, --set sync_bn=false turns off SyncBatchNorm)")
    scale.add_argument("--nproc", type=arguments.whole(low=1, what="--nproc"), default=1,
                       help="processes on this machine (one per GPU on CUDA)")
    scale.add_argument("--nnodes", type=arguments.whole(low=1, what="--nnodes"), default=1, help="machines")
    scale.add_argument("--node-rank", type=arguments.whole(low=0, what="--node-rank"), default=0,
                       help="this machine's place, 0 to nnodes-1 (the store is on rank 0's machine)")
    scale.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="where the machines meet: node 0's address "
                       "and a port open between them (e.g. 10.0.0.1:29400)")

    runs = verbs.add_parser("runs", help="list, show or export runs; check, recover or clean up the store")
    runs_verbs = runs.add_subparsers(dest="runs_verb", required=True)
    listing = runs_verbs.add_parser("list")
    listing.add_argument("--limit", type=arguments.whole(low=1, what="the number of runs"), help="the newest N runs")
    show = runs_verbs.add_parser("show")
    show.add_argument("run_id", type=arguments.run_id)
    export = runs_verbs.add_parser("export")
    export.add_argument("run_id", type=arguments.run_id)
    export.add_argument("--csv", action="store_true", required=True, help="metrics as CSV (one row per step)")
    export.add_argument("--out", help="file to write (default: stdout)")
    runs_verbs.add_parser("check", help="check runs.sqlite and every checkpoint's checksum (exit 1 on damage)")
    runs_verbs.add_parser("recover", help="move a damaged runs.sqlite aside, start a new one and rebuild "
                                          "the runs from their checkpoints")
    clean = runs_verbs.add_parser("clean-up", help="delete the checkpoints of finished runs that their "
                                                   "retention policy (keep_last, keep_every, keep_best) does not keep")
    clean.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
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
    from engine.core import distributed
    from engine.core.device import describe, pick_device
    from engine.core.registry import validate
    from engine.core.trainer import TrainingJob

    values = run_values(args)
    several = args.nproc > 1 or args.nnodes > 1 or distributed.in_torchrun()
    if "sync_bn" in values and not several:
        raise ParamError("sync_bn is used only with --nproc (or --nnodes) above 1")
    sync_bn = distributed.SYNC_BN.coerce(values.pop("sync_bn", True))
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.data_dir:  # point sets saved there are found by name too
        from engine.data.saved_points import look_in
        look_in(args.data_dir)
        from engine.data import saved_images
        saved_images.look_in(args.data_dir)
    dataset = args.dataset if args.points is None else _save_points(args.points, args.data_dir, log)
    if args.images is not None:
        from engine.data.saved_images import save_source
        dataset = save_source(args.images, args.data_dir, log)
    config = validate(args.model, dataset, values, _key_values(args.option, "--option"))
    device = pick_device(args.device)
    if several and not distributed.in_torchrun():  # this process launches the ranks, each runs the lines below
        return _launch(args, dataset)
    group = None
    if distributed.in_torchrun():
        group, device = distributed.join(device)
        if not group.leader:  # the leader speaks for the run
            log = (lambda *a: None)

    def report(p):
        figures = ", ".join(f"{k} {v:.4f}" for k, v in p.final.items() if k.startswith(("train_", "val_")))
        log(f"epoch {p.epoch}/{p.epochs}: {figures}, {p.samples_per_s:.0f} samples/s")

    store = _store(args) if group is None or group.leader else None  # the other ranks never open it
    job = TrainingJob(config, store, device=device, data_dir=args.data_dir, on_epoch=report,
                      group=group, sync_bn=sync_bn)
    log(f"run {job.run_id}: {config.model} on {config.dataset}, "
        f"{describe(device) if group is None else f'{group.world} processes, each {describe(device)}'}")
    # Ctrl-C / SIGTERM stop the run cleanly (status "stopped", checkpoints kept): the handler runs
    # between two steps of the loop. The CLI trains in its main thread: on CPU, PyTorch's OpenMP
    # kernels run 10-30 % slower from a secondary thread (bench/trainer_overhead.py measures both).
    # The pages can stop, pause and step this run too: their commands reach it through the store.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: job.interrupt())
    ended_together = False
    try:
        job.run()
        # the ranks agree on how a run ends (stop, divergence, the last epoch): they leave together
        ended_together = job.progress.status in ("completed", "stopped", "diverged")
    finally:
        distributed.leave(ended_together)
    p = job.progress
    code = 0 if p.status in ("completed", "stopped") else 1
    if group is not None and not group.leader:
        if ended_together:
            distributed.exit_rank(code)
        return code
    print(json.dumps({"run_id": job.run_id, "status": p.status, "model": config.model,
                      "dataset": config.dataset, "device": str(device), "final": p.final,
                      "message": p.message} | ({"world_size": group.world} if group else {})))
    if p.status != "completed":
        print(f"run {job.run_id} {p.status}: {p.message}", file=sys.stderr)
    if group is not None and ended_together:
        distributed.exit_rank(code)
    return code


def _launch(args, dataset: str) -> int:
    """Train this run under torchrun: the same command without the launch flags, as --nproc ranks
    here (engine/core/distributed.py). Runs whose processes died (a killed rank) are marked
    interrupted before it returns (each machine in its own store: only node 0's has the run)."""
    from engine.core import distributed

    engine_args = (["--data-dir", args.data_dir] if args.data_dir else []) + \
        ["train", "--model", args.model, "--dataset", dataset]
    for flag in TRAIN_FLAGS + ("device",):
        if getattr(args, flag) is not None:
            engine_args += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    engine_args += [f"--set={pair}" for pair in args.set] + [f"--option={pair}" for pair in args.option]
    engine_args += ["--quiet"] if args.quiet else []
    status = distributed.launch(engine_args, args.nproc, args.nnodes, args.node_rank, args.rdzv_endpoint)
    _store(args).mark_interrupted()  # a run whose rank 0 died says so at once (nothing else is touched)
    return status


def _save_points(path: str, data_dir, log) -> str:
    """A CSV of 2D points checked and saved as a dataset; its name. A bad file: ValueError naming it."""
    import os

    from engine.data.custom_points import read_points_csv
    from engine.data.saved_points import save_points

    try:
        points = read_points_csv(path, os.path.basename(path))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    name = save_points(points, data_dir)
    log(f"{path}: {len(points):,} points, saved as dataset {name}")
    return name


def cmd_runs(args) -> int:
    if args.runs_verb in ("check", "recover"):  # these open a damaged store their own way
        return cmd_check(args) if args.runs_verb == "check" else cmd_recover(args)
    store = _store(args)
    if args.runs_verb == "clean-up":
        return cmd_clean_up(args, store)
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


def cmd_check(args) -> int:
    from engine.core.paths import runs_dir
    from engine.core.recovery import check_store

    check = check_store(runs_dir(args.data_dir))
    print(json.dumps({"store": str(check.db_path), "ok": check.ok, "database": check.database or "ok",
                      "checkpoints_checked": check.checkpoints_checked,
                      "damaged_checkpoints": [{"run_id": r, "epoch": e, "problem": p}
                                              for r, e, p in check.damaged_checkpoints]}))
    if check.database is not None:
        print(f"error: {check.db_path} is damaged ({check.database}): run `python -m engine runs recover`",
              file=sys.stderr)
    elif check.damaged_checkpoints:
        damaged = ", ".join(f"run {r} epoch {e}" for r, e, _ in check.damaged_checkpoints)
        print(f"error: {len(check.damaged_checkpoints)} damaged checkpoint(s): {damaged}; the runs' other "
              "epochs still open", file=sys.stderr)
    return 0 if check.ok else 1


def cmd_recover(args) -> int:
    from engine.core.paths import runs_dir
    from engine.core.recovery import recover_store

    done = recover_store(runs_dir(args.data_dir))
    print(json.dumps({"moved_to": str(done.moved_to) if done.moved_to else None, "recovered": done.recovered,
                      "from_damaged_store": done.from_store, "from_checkpoints": done.from_checkpoints,
                      "not_recovered": done.not_recovered}))
    where = (f"the damaged file is kept as {done.moved_to}" if done.moved_to
             else "runs.sqlite passed its integrity check and was kept")
    lost = (f"; {len(done.not_recovered)} checkpoint folder(s) had no run settings to rebuild from "
            f"(saved before checkpoints carried them): {done.not_recovered}" if done.not_recovered else "")
    print(f"recovered {done.recovered} run(s): {len(done.from_store)} read from the damaged store, "
          f"{len(done.from_checkpoints)} rebuilt from their checkpoints; {where}{lost}", file=sys.stderr)
    return 0


def cmd_clean_up(args, store) -> int:
    from engine.core.retention import clean_up, human_bytes, plan_clean_up

    plan = plan_clean_up(store)
    freed = 0 if args.dry_run else clean_up(store, plan)
    print(json.dumps({"checkpoints": plan.checkpoints, "runs": sorted(plan.epochs), "bytes": plan.bytes,
                      "deleted": not args.dry_run}))
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {plan.checkpoints} checkpoint(s) of {len(plan.epochs)} run(s), "
          f"{human_bytes(plan.bytes if args.dry_run else freed)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The catalogue imports every model; build it only when help is asked for.
    parser = _parser(with_catalogue=any(a in ("-h", "--help") for a in argv))
    try:
        args = parser.parse_args(argv)
        if hasattr(args, "func"):
            return args.func(args)
        return cmd_train(args) if args.verb == "train" else cmd_runs(args)
    except (ParamError, ValueError, KeyError, FileNotFoundError, IsADirectoryError, RunStoreError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
