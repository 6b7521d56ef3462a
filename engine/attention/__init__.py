"""Attention maps of the sequence models, MiniLM's heads, and the recurrent views."""
