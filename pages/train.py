"""Training: placeholder until the page lands; the CLI trains today."""
import streamlit as st

st.title("Training")
st.info(
    "Coming next: pick any registered model and dataset, set every hyperparameter from sliders "
    "built from the model's schema, and watch the loss and accuracy curves draw live while it "
    "trains, with stop, and a comparison of your runs.",
    icon=":material/construction:",
)
st.write("The engine already trains from the command line; finished runs show up on Home:")
st.code("python -m engine train --model cnn --dataset mnist --epochs 1\n"
        "python -m engine --help      # every model, its settings, and the datasets", language="bash")
