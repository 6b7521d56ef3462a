"""Latent space: placeholder until the page lands."""
import streamlit as st

st.title("Latent space")
st.info(
    "Coming next: a VAE's latent space, as a grid of decoded images over the 2D latent plane, "
    "walks between two points, and the test set encoded and coloured by digit; then a GAN.",
    icon=":material/construction:",
)
