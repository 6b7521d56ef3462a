"""Saliency: placeholder until the page lands."""
import streamlit as st

st.title("Saliency")
st.info(
    "Coming next: what a CNN looks at when it classifies an image, as Grad-CAM, guided backprop "
    "and guided Grad-CAM heatmaps over the input, for the CNNs you train here.",
    icon=":material/construction:",
)
