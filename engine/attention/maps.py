"""Attention maps from the sequence models trained here.

`run_attention(model, vocab, text)` decodes one typed input greedily and returns the output text
and every attention map it produced, named by kind/layer/head, as numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from engine.core.params import ParamError
from engine.models.attention_layers import sinusoidal_positions


def position_similarity(length: int, d_model: int) -> np.ndarray:
    """Dot products between the encodings of every pair of positions: (length, length)."""
    pe = sinusoidal_positions(length, d_model)
    return (pe @ pe.T).numpy()



# ---- one typed input through a trained sequence model --------------------------------------------
@dataclass
class AttentionResult:
    """What a model did with one input: the tokens on both axes and every attention map."""
    source: list[str]        # input tokens (x axis of encoder self- and cross-attention)
    output: list[str]        # generated tokens, EOS included when produced
    text: str                # the output as text (up to EOS)
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> (layers, heads, q, k)
    notices: list[str] = field(default_factory=list)           # e.g. truncation

    def kinds(self) -> list[str]:
        return list(self.maps)

    def flat(self) -> dict[str, np.ndarray]:
        return flat_maps(self.maps)


def flat_maps(maps: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every map of {kind: (layers, heads, q, k)} as its own 2D array, named kind.layerL.headH (for an .npz file)."""
    return {f"{kind}.layer{layer}.head{head}": stack[layer, head]
            for kind, stack in maps.items() for layer in range(stack.shape[0]) for head in range(stack.shape[1])}


KIND_TITLES = {
    "encoder_self": "Encoder self-attention",
    "decoder_self": "Decoder self-attention",
    "cross": "Cross-attention (decoder -> encoder)",
}


def encode_text(vocab, text: str, max_len: int) -> tuple[torch.Tensor, list[str]]:
    """(1, n) ids for a typed input; empty or unknown characters raise ParamError, long ones are cut."""
    if not text:
        raise ParamError("the input is empty: type a sequence")
    ids = vocab.encode(text)
    notices = []
    if len(ids) > max_len:
        notices.append(f"the input has {len(ids)} characters; this model was trained on at most {max_len}: "
                       f"only the first {max_len} were used")
        ids = ids[:max_len]
    return torch.tensor([ids]), notices


@torch.no_grad()
def run_attention(model: nn.Module, vocab, text: str, max_len: int, out_len: int) -> AttentionResult:
    """Greedy-decode `text` with a trained sequence model and collect its attention maps."""
    from engine.data.sequences import EOS

    src, notices = encode_text(vocab, text, max_len)
    device = next(model.parameters()).device
    model.eval()
    generated, maps = model.generate_with_attention(src.to(device), out_len + 1)
    ids = generated[0].tolist()
    if EOS in ids:
        ids = ids[:ids.index(EOS) + 1]
    n_out = len(ids)
    output = [vocab.tokens[i] for i in ids]
    source = [vocab.tokens[i] for i in src[0].tolist()]
    trimmed = {kind: m[:, :, :n_out, :n_out] if kind == "decoder_self" else
               (m[:, :, :n_out, :] if kind == "cross" else m) for kind, m in maps.items()}
    return AttentionResult(source, output, vocab.decode(ids), trimmed, notices)


# ---- trained runs --------------------------------------------------------------------------------
NEED = "attention_maps"  # the capability a trained run needs here: generate_with_attention(src, steps)


@dataclass
class RunTask:
    """What a view needs to talk to a trained sequence run: its task, vocabulary and lengths."""
    run_id: int
    model: str
    task: str
    options: dict
    vocab: object
    max_in: int
    max_out: int

    @property
    def probe(self) -> str:
        """The fixed input whose attention is replayed epoch by epoch."""
        from engine.data.sequences import LETTERS, TASKS
        text = TASKS[self.task][5]
        if self.task in ("copy", "reverse", "sort"):  # fit the probe to the run's length and vocabulary
            letters = LETTERS[:self.options["vocab"]]
            text = "".join(letters[(i * 3) % len(letters)] if self.task == "sort" else letters[i % len(letters)]
                           for i in range(self.options["length"]))
        return text

    @property
    def expectation(self) -> str:
        from engine.data.sequences import TASKS
        return TASKS[self.task][6]

    def target(self, text: str) -> str | None:
        from engine.data.sequences import target_for
        return target_for(self.task, text, self.options)

    def random_input(self, seed: int) -> str:
        from engine.data.sequences import make_task
        options = {**self.options, "n_samples": 1, "seed": seed}
        return make_task(self.task, options)[3][0]


def run_task(store, run_id: int) -> RunTask:
    """A sequence-to-sequence run's task; ParamError when the run is not one."""
    from engine.core.registry import run_config, specs_with
    from engine.data.sequences import TASKS, task_lengths, task_vocab

    run = store.get_run(run_id)
    models = [spec.name for spec in specs_with(NEED)]
    if run.model not in models or run.dataset not in TASKS:
        raise ParamError(f"run {run_id} is {run.model} on {run.dataset}: attention needs a run of "
                         f"{' or '.join(models)} on a sequence task ({', '.join(TASKS)})")
    config = run_config(run.params)
    options = config.dataset_options
    max_in, max_out = task_lengths(run.dataset, options)
    return RunTask(run_id, run.model, run.dataset, options, task_vocab(run.dataset, options), max_in, max_out)


def attention_for_run(store, run_id: int, text: str, epoch: int | None = None,
                      data_dir=None) -> AttentionResult:
    """Load the run's checkpoint of `epoch` (latest when None), decode `text`, collect attention."""
    from engine.core.loading import load_run

    task = run_task(store, run_id)
    model = load_run(store, run_id, epoch, data_dir=data_dir, need=NEED).model
    return run_attention(model, task.vocab, text, task.max_in, task.max_out)
