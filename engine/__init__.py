"""Deep Playground engine: all computation, no UI. Never imports streamlit."""
