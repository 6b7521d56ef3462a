"""The run a page shows lives in st.session_state[key] and in the URL as ?run=ID, so a refresh or a
shared link opens the same run (the training, attention and latent pages)."""
from __future__ import annotations

import streamlit as st


def select_run(key: str, run_id: int | None) -> None:
    st.session_state[key] = run_id
    if run_id is None:
        st.query_params.pop("run", None)
    else:
        st.query_params["run"] = str(run_id)
