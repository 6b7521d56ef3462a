"""Attention: placeholder until the page lands."""
import streamlit as st

st.title("Attention")
st.info(
    "Coming next: attention heatmaps per layer and head for the transformers and seq2seq models "
    "trained here, and for the pretrained MiniLM sentence model.",
    icon=":material/construction:",
)
