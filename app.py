"""Deep Playground: `streamlit run app.py`. Navigation over the pages, and the device badge."""
import streamlit as st

from engine.embeddings.project import warm_up
from pages._ui.device import device_status
from pages._ui.nav import sections
from pages._ui.store_views import run_page

st.set_page_config(page_title="Deep Playground", layout="wide")

# UMAP compiles with numba for 30-45 s in every new process: start it now, in the background, so the
# Embeddings page finds it ready (idempotent; $DEEP_PLAYGROUND_NO_UMAP_WARMUP=1 skips it).
warm_up()

page = st.navigation(sections())

with st.sidebar:
    text, ok = device_status()
    if ok:
        st.badge(text, icon=":material/memory:", color="green" if "GPU" in text else "gray")
    else:
        st.error(text, icon=":material/error:")

run_page(page)  # a run store that refuses a write (read-only, full disk) says why, on any page
