"""The run store as a whole, for every page: opening it (or saying what is wrong with it and how
to recover), its errors as messages, and Home's disk use with its clean-up."""
from __future__ import annotations

import streamlit as st

from engine.core.paths import runs_dir
from engine.core.retention import clean_up, default_retention, human_bytes, plan_clean_up
from engine.core.runs import RunStore, RunStoreError


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def open_store() -> RunStore:
    """The run store; where it cannot be opened (damaged, unreadable), the reason and what to do,
    and the page stops there. A store that opened read-only (a read-only folder, a full disk) is
    said so: its runs can be looked at, not trained."""
    try:
        store = RunStore(runs_dir())
    except RunStoreError as err:
        st.error(str(err), icon=":material/error:")
        st.stop()
    if store.read_only:
        st.warning(f"The run store cannot be written: {store.read_only}. Runs can be opened and looked at; "
                   "training, stopping and deleting need a writable store.", icon=":material/lock:")
    return store


def run_page(page) -> None:
    """Run the page; a run store error it meets on the way (a write refused on a full disk or a
    read-only folder, say by Start) is shown as its message where the page stopped, not as a
    traceback."""
    try:
        page.run()
    except RunStoreError as err:
        st.error(str(err), icon=":material/error:")


def _clean_up(store_root: str) -> None:
    """The button's action, run before the page is drawn again, so the numbers below show the result."""
    store = RunStore(store_root)
    plan = plan_clean_up(store)
    try:
        freed = clean_up(store, plan)
    except RunStoreError as err:
        st.session_state.clean_up_done = ("error", str(err))
        return
    st.session_state.clean_up_done = ("ok", f"Deleted {_count(plan.checkpoints, 'checkpoint')} of "
                                             f"{_count(len(plan.epochs), 'run')}: {human_bytes(freed)} freed.")


def disk_used(store: RunStore) -> None:
    """How much disk the runs take, and the clean-up: the checkpoints of finished runs that their
    retention policy does not keep (runs made before it existed keep every epoch)."""
    kind, text = st.session_state.pop("clean_up_done", (None, None))
    if kind == "ok":
        st.success(text, icon=":material/check:")
    elif kind == "error":
        st.error(text, icon=":material/error:")
    st.markdown(f"**{human_bytes(store.disk_usage())}** in the run store: its database and every run's checkpoints.")
    st.code(str(store.root), language=None)
    plan = plan_clean_up(store)
    if not plan.epochs:
        st.caption("Nothing to clean up: every finished run keeps only the checkpoints its retention settings "
                   "(keep last, keep every, keep best) ask for.")
        return
    st.markdown(f"{_count(plan.checkpoints, 'checkpoint')} of {_count(len(plan.epochs), 'finished run')} "
                f"{'is' if plan.checkpoints == 1 else 'are'} outside their retention settings (by default "
                f"{default_retention().describe()}): deleting them frees **{human_bytes(plan.bytes)}**.")
    st.button(f"Delete {_count(plan.checkpoints, 'old checkpoint')}", icon=":material/delete_sweep:", key="clean_up",
              on_click=_clean_up, args=(str(store.root),), disabled=bool(store.read_only),
              help="the runs, their curves and the checkpoints their settings keep stay")
