"""Embeddings: placeholder until the page lands."""
import streamlit as st

st.title("Embeddings")
st.info(
    "Coming next: word vectors (pretrained GloVe, or Word2Vec trained here) projected to 3D with "
    "UMAP, t-SNE or PCA, with search, nearest neighbours in the original space and analogies.",
    icon=":material/construction:",
)
