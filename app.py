"""Deep Playground: `streamlit run app.py`. Navigation over the pages, and the device badge."""
import streamlit as st

from pages._ui.device import device_status
from pages._ui.nav import sections
from pages._ui.store_views import run_page

st.set_page_config(page_title="Deep Playground", layout="wide")

# No UMAP warm-up here: the server never fits UMAP now (its default map ships in assets/projections,
# and UMAP / t-SNE run as jobs in their own processes, engine/embeddings/projection_job.py), so numba's
# 30-45 s compile in this process was a core taken from the user's first minute for nothing.

page = st.navigation(sections())

with st.sidebar:
    text, ok = device_status()
    if ok:
        st.badge(text, icon=":material/memory:", color="green" if "GPU" in text else "gray")
    else:
        st.error(text, icon=":material/error:")

run_page(page)  # a run store that refuses a write (read-only, full disk) says why, on any page
