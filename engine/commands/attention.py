"""CLI verbs of the Attention page.

    python -m engine attention --model minilm --text "The cat sat." [--text2 "..."] --out maps.npz
    python -m engine attention --model RUN_ID --text "abcdefgh" --out maps.npz
    python -m engine translate --run RUN_ID --text "22 November 2026"

`attention` writes one 2D array per map, named KIND.layerL.headH (KIND: self for MiniLM;
encoder_self, decoder_self, cross for trained runs), plus the token lists; a JSON summary goes to
stdout. `translate` prints the model's output as JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.core.numbers import is_whole, parse_run_id
from engine.core.params import ParamError


def add_parser(verbs) -> None:
    from engine.core.arguments import run_id, whole
    attention = verbs.add_parser("attention", help="attention maps of MiniLM or a trained sequence run, to .npz")
    attention.add_argument("--model", required=True, help="minilm, or the id of a transformer/seq2seq run")
    attention.add_argument("--text", required=True, help="the input (a sentence, or a task sequence)")
    attention.add_argument("--text2", help="MiniLM only: a second sentence, read as one [SEP]-joined pair")
    attention.add_argument("--epoch", type=whole(), help="trained runs: the checkpoint's epoch (default: the latest)")
    attention.add_argument("--out", required=True, help="the .npz file to write")
    attention.set_defaults(func=run_attention)

    translate = verbs.add_parser("translate", help="run a trained sequence model on a typed input")
    translate.add_argument("--run", required=True, type=run_id, help="id of a transformer/seq2seq run")
    translate.add_argument("--text", required=True)
    translate.add_argument("--epoch", type=whole())
    translate.set_defaults(func=run_translate)


def _store(args):
    from engine.core.paths import runs_dir
    from engine.core.runs import RunStore
    return RunStore(runs_dir(args.data_dir))


def _run_id(value: str) -> int:
    if not is_whole(value):
        raise ParamError(f"--model must be minilm or a run id, not {value!r}")
    return parse_run_id(value)


def run_attention(args) -> int:
    out = Path(args.out)
    if out.suffix != ".npz":
        raise ParamError(f"--out must be a .npz file, not {args.out!r}")
    if args.model.lower() == "minilm":
        from engine.attention.maps import flat_maps
        from engine.attention.minilm import minilm_attention
        result = minilm_attention(args.text, args.text2)
        arrays = flat_maps({"self": result.attentions})
        arrays["tokens"] = np.array(result.tokens)
        summary = {"model": "minilm", "tokens": result.tokens, "layers": result.attentions.shape[0],
                   "heads": result.attentions.shape[1]}
    else:
        from engine.attention.maps import attention_for_run
        result = attention_for_run(_store(args), _run_id(args.model), args.text, args.epoch, data_dir=args.data_dir)
        arrays = result.flat()
        arrays["tokens_in"], arrays["tokens_out"] = np.array(result.source), np.array(result.output)
        summary = {"model": f"run {args.model}", "input": result.source, "output": result.text,
                   "kinds": {k: list(v.shape) for k, v in result.maps.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(json.dumps({**summary, "arrays": len(arrays), "out": str(out), "notices": result.notices}))
    return 0


def run_translate(args) -> int:
    from engine.attention.maps import attention_for_run, run_task
    store = _store(args)
    task = run_task(store, args.run)
    result = attention_for_run(store, args.run, args.text, args.epoch, data_dir=args.data_dir)
    expected = task.target("".join(result.source))
    print(json.dumps({"run_id": args.run, "task": task.task, "input": "".join(result.source), "output": result.text,
                      "expected": expected, "notices": result.notices}))
    return 0
