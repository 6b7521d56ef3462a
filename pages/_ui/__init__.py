"""Shared UI helpers for the page scripts (a package, not a page: Streamlit skips `_` names)."""
