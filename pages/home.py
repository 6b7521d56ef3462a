"""Home: what the app does, the device in use, what can be trained, the latest runs, and the disk they use."""
from datetime import datetime

import pandas as pd
import streamlit as st

from engine.data import list_datasets
import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import list_specs
from pages._ui.device import device_status
from pages._ui.nav import PAGES, page
from pages._ui.store_views import disk_used, open_store
from pages._ui.run_link import run_url

FIRST_RUN = "python -m engine train --model cnn --dataset mnist --epochs 1"

st.title("Deep Playground")
st.write(
    "See inside deep-learning models, and train them from sliders. Explore word embeddings in 3D, "
    "look at what a CNN looks at, read attention heatmaps, walk a VAE's latent space, and train "
    "each of those models while the curves draw live; then inspect the model you just trained. "
    "Everything runs locally and offline, on your GPU when there is one."
)

text, ok = device_status()
if ok:
    st.markdown(f"**Device:** {text}")
else:
    st.error(f"**Device:** {text}")

st.subheader("Pages")
cards = [info for info in PAGES if info.file != "home.py"]
for column, info in zip(st.columns(len(cards)), cards):
    with column.container(border=True, height="stretch"):
        st.page_link(page(info), label=f"**{info.title}**")
        st.caption(info.summary)

st.subheader("Models")
models = pd.DataFrame(
    [{"name": s.name, "model": s.title, "trains on": ", ".join(s.data_kinds),
      "settings": len(s.params), "what it is": s.description} for s in list_specs()]
)
st.table(models, border="horizontal", hide_index=True)

st.subheader("Datasets")
datasets = list_datasets(include_unavailable=True)
available = pd.DataFrame(
    [{"name": d.name, "dataset": d.title, "kind": d.kind, "classes": len(d.classes),
      "what it is": d.description} for d in datasets if d.available]
)
st.table(available, border="horizontal", hide_index=True)
for d in datasets:
    if not d.available:
        st.caption(f":material/block: **{d.title}** is not installed here. To get it: {d.hint}")

st.subheader("Recent runs")
store = open_store()  # a damaged store: what to do, here, and the page ends
runs = store.list_runs(limit=10)
if runs:
    recent = pd.DataFrame(
        [{"id": r.id, "open": run_url(r), "model": r.model, "dataset": r.dataset, "status": r.status,
          "val accuracy": r.final.get("val_acc"), "val loss": r.final.get("val_loss"),
          "started": datetime.fromtimestamp(r.created)} for r in runs]
    )
    st.dataframe(
        recent, hide_index=True, width="stretch",
        placeholder="—",  # a run without a metric (a VAE has no accuracy): a dash, not "None"
        column_config={
            "val accuracy": st.column_config.NumberColumn(format="%.3f"),
            "val loss": st.column_config.NumberColumn(format="%.4g"),
            # Each run opens on its page: the Training page, or the page of what it is (latent space,
            # attention, word vectors). The link's text is that page's address.
            "open": st.column_config.LinkColumn("open on", display_text=r"^([^?]+)",
                                                help="the page that shows this run"),
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
        },
    )
else:
    training = next(p for p in PAGES if p.file == "train.py")
    st.info(f"No runs yet. Train one on the **{training.title}** page: set a model and its data, then press "
            f"**Start**. Or from a terminal: `{FIRST_RUN}`. Every run shows up here.", icon=":material/info:")
    st.page_link(page(training), label=f"Open the {training.title} page", icon=":material/arrow_forward:")

st.subheader("Disk used by runs")
disk_used(store)
