"""The run a page shows lives in st.session_state[key] and in the URL as ?run=ID, so a refresh or a
shared link opens the same run (the training, attention, latent and saliency pages). Which page
opens a run is decided here, for the Training page's links and Home's list alike."""
from __future__ import annotations

import streamlit as st

from engine.core.numbers import is_whole, parse_run_id
from engine.core.params import ParamError
from engine.core.registry import get_spec
from engine.core.runs import Run
from pages._ui.nav import PAGES, PageInfo
from pages._ui.safe_markdown import escape_markdown

# Capabilities looked inside on their own page; classifiers are looked inside on the Training page.
FAMILY_PAGES = {"attention_maps": "attention.py", "hidden_states": "attention.py", "generator": "latent.py"}
# Runs of models outside the registry, and the page that trains and shows them.
OTHER_RUN_PAGES = {"word2vec": "embeddings.py", "fasttext": "embeddings.py", "linear_rnn": "attention.py"}
# The pages that open the run named by ?run=ID (the Embeddings page picks trained vectors itself).
OPENS_LINKED_RUN = ("train.py", "attention.py", "latent.py", "saliency.py")


def select_run(key: str, run_id: int | None) -> None:
    st.session_state[key] = run_id
    if run_id is None:
        st.query_params.pop("run", None)
    else:
        st.query_params["run"] = str(run_id)


def linked_run_id() -> int | None:
    """The run id in the URL's ?run=, or None when there is none. A value that is no run id (typed
    or pasted: "²", 20 digits, a markdown link) is said so in an error box, and no run opens."""
    text = st.query_params.get("run")
    if not text:
        return None
    try:
        if not is_whole(text):
            shown = text if len(text) <= 40 else f"{text[:40]}..."
            raise ParamError(f"{shown!r} is not a run id")
        return parse_run_id(text)
    except ParamError as err:
        st.error(f"Cannot open the run named in the link: {escape_markdown(err)}.", icon=":material/link_off:")
        return None


def page_for(model: str, pages: dict[str, str]) -> str | None:
    """The page (file) that opens the first capability of registered `model` found in `pages`, or None."""
    spec = get_spec(model)
    return next((file for capability, file in pages.items() if spec.can(capability)), None)


def page_of_run(run: Run) -> PageInfo:
    """The page that shows `run`: the one that trained a model outside the registry, the page of
    its capability (attention, latent space), or the Training page (curves, and what is inside)."""
    try:
        file = OTHER_RUN_PAGES.get(run.model) or page_for(run.model, FAMILY_PAGES) or "train.py"
    except ParamError:  # a model no longer registered: the Training page says what it is
        file = "train.py"
    return next(p for p in PAGES if p.file == file)


def run_url(run: Run) -> str:
    """A relative link that opens `run` on its page (with ?run=ID where that page reads it)."""
    target = page_of_run(run)
    return f"{target.url_path}?run={run.id}" if target.file in OPENS_LINKED_RUN else target.url_path
