"""`python -m engine sweep`: many runs of one model at once, on Ray Tune (engine/sweep).

    python -m engine sweep --model mlp --dataset spiral --grid lr=1e-3,1e-2,1e-1 --grid width=4,16,64
    python -m engine sweep --model mlp --dataset spiral --random lr=1e-4:1 --grid width=4,16 --trials 20 \\
        --search tpe --prune --parallel 2
    python -m engine sweep ... --address HEAD:6379          (a running Ray cluster: README)

Settings are `train`'s (--set, --option, --epochs, --lr, ...) and checked the same way: a bad name
or value exits 2 with train's message. Every trial is a run in the store, tagged with the sweep;
progress goes to stderr, one JSON line to stdout at the end (the sweep, its trials, the best run).
Ctrl-C stops the running trials (marked stopped) and keeps the finished ones.
"""
from __future__ import annotations

import json
import signal
import sys

def add_parser(verbs) -> None:
    from engine.__main__ import add_run_flags
    from engine.core.arguments import whole
    from engine.sweep.spec import PRUNERS, SEARCHES

    sweep = verbs.add_parser("sweep", help="train many runs at once over a grid or ranges of settings (Ray Tune)")
    sweep.add_argument("--model", required=True)
    sweep.add_argument("--dataset", required=True)
    sweep.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                       help="values to try for one setting (repeat for more settings)")
    sweep.add_argument("--random", action="append", default=[], metavar="NAME=LOW:HIGH",
                       help="a range to sample (log-uniformly for log settings such as lr)")
    sweep.add_argument("--search", choices=SEARCHES, help="grid (default without --random), random "
                       "(default with it) or tpe (Optuna's TPE sampler)")
    sweep.add_argument("--trials", type=whole(low=1, what="--trials"), help="samples for random / tpe (default 10)")
    sweep.add_argument("--metric", help="what ranks the trials (default val_acc; val_loss on regression sets)")
    sweep.add_argument("--mode", choices=("max", "min"), help="whether the metric is better high or low")
    sweep.add_argument("--prune", nargs="?", const="asha", choices=PRUNERS,
                       help="stop trials that fall behind after each epoch: asha (the default) or median")
    sweep.add_argument("--parallel", type=whole(low=1, what="--parallel"),
                       help="trials at once (default: the cores, or the GPUs where there are some)")
    sweep.add_argument("--address", help="a running Ray cluster (HEAD:6379 after `ray start`); default: "
                       "an embedded local Ray")
    add_run_flags(sweep)
    sweep.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps: for every trial")
    sweep.set_defaults(func=run_sweep)


def run_sweep(args) -> int:
    from engine.__main__ import _key_values, _store, run_values
    from engine.sweep import results
    from engine.sweep.job import SweepJob, log_to_stderr
    from engine.sweep.spec import make_spec, parse_grid, parse_ranges

    values = run_values(args)
    if args.device is not None:
        from engine.core.device import pick_device
        pick_device(args.device)  # a device this machine cannot use: train's message, before Ray starts
    spec = make_spec(args.model, args.dataset, values, _key_values(args.option, "--option"),
                     grid=parse_grid(args.grid), ranges=parse_ranges(args.random), search=args.search,
                     trials=args.trials, metric=args.metric, mode=args.mode, prune=args.prune,
                     parallel=args.parallel, address=args.address, device=args.device)
    store = _store(args)
    job = SweepJob(spec, store, data_dir=args.data_dir, log=None if args.quiet else log_to_stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop the trials cleanly, keep the finished ones
        signal.signal(sig, lambda *_: job.interrupt())
    status = job.run()
    sweep = store.get_sweep(job.sweep_id)
    trials = results.sweep_trials(store, sweep)
    best = results.best_trial(trials, spec.mode)
    print(json.dumps({
        "sweep_id": sweep.id, "status": status, "message": sweep.message, "metric": spec.metric, "mode": spec.mode,
        "best_run": best.run.id if best else None, "best": best.best if best else None,
        "best_params": best.values if best else None,
        "trials": [{"run_id": t.run.id, "status": t.run.status, "epochs": t.epoch, "params": t.values,
                    "best": t.best} for t in trials]}))
    if status == "failed":
        print(f"sweep {sweep.id} failed: {sweep.message}", file=sys.stderr)
    elif best is not None:
        print(f"sweep {sweep.id} {status}: best run {best.run.id} ({spec.metric} {best.best:.4f}) with "
              + ", ".join(f"{k}={v}" for k, v in best.values.items()), file=sys.stderr)
    return 1 if status == "failed" else 0
