"""Saliency: placeholder until the page lands."""
import streamlit as st

st.title("Saliency")
st.info(
    "Coming next: what a CNN looks at when it classifies an image, as Grad-CAM, guided backprop "
    "and guided Grad-CAM heatmaps over the input, for the CNNs you train here.",
    icon=":material/construction:",
)

# The training page hands a finished CNN over as ?run=ID: say which run will be opened here.
run = st.query_params.get("run", "")
if run.isdigit():
    from engine.paths import runs_dir
    from engine.runs import RunStore

    try:
        handed = RunStore(runs_dir()).get_run(int(run))
        st.markdown(f"Run **{handed.id}** ({handed.model} on {handed.dataset}, "
                    f"val accuracy {handed.final.get('val_acc', float('nan')):.3f}) was handed over from "
                    "the training page; its maps will show here when this page lands.")
    except KeyError:
        st.warning(f"Run {run} does not exist (it may have been deleted).")
