"""The Embeddings page's widget state: st.session_state holds each widget's value, and the browser is
always sent that value.

Streamlit keeps a keyed widget's value on the server while the page stops early (st.stop), but the
browser forgets a widget it did not draw: when the widget comes back the browser showed its
`index=` default (the ?colour= of the link, say) while the page went on using the kept value, so the
box read "frequency rank" over a map coloured by word group. And a full run without the widget
drops its value on the server too (t-SNE's perplexity was back at 30 after a look at UMAP).

So a widget of this page is drawn as `st.selectbox(..., key=kept(key, default))`, with no `index=` or
`value=`: `kept` writes the value the page will use into the state just before the widget is
drawn. A value written this way is sent to the browser with the widget, so the box shows what the
map uses; a copy under another name brings the value back after runs without the widget.
"""
from __future__ import annotations

import streamlit as st


def kept(key: str, default, fix=None, typed: bool = False) -> str:
    """The widget key, its state set to the value the widget last had (`default` the first time);
    `fix(value)` may replace a value the widget no longer accepts (an option gone, a number out of
    a smaller range). Call it just before drawing the widget.

    `typed`: a box typed into while timed reruns go on (the search, while t-SNE animates the map).
    Its value is written only when the state lost it: a run that started before the Enter wrote
    the old value back over the new one, and the search was gone."""
    shadow = f"kept:{key}"
    if typed and key in st.session_state:
        st.session_state[shadow] = st.session_state[key]
        return key
    value = st.session_state[key] if key in st.session_state else st.session_state.get(shadow, default)
    if fix is not None:
        value = fix(value)
    st.session_state[key] = st.session_state[shadow] = value
    return key


def kept_choice(key: str, options: list, default) -> str:
    """`kept` for a selectbox or radio: a value not among `options` falls back to `default`, and a
    `default` not among them (a link's ?method=mds) to the first option."""
    default = default if default in options else options[0]
    return kept(key, default, lambda value: value if value in options else default)


def kept_number(key: str, low, high, default) -> str:
    """`kept` for a slider or number input: the value (and `default`) held within [low, high]."""
    return kept(key, min(max(default, low), high), lambda value: min(max(value, low), high))


def forget(key: str) -> None:
    """Before a run that stops without drawing the `typed` widget `key`: the browser forgets it, so
    the server forgets it too (its copy stays), and `kept` writes it back, shown, when it returns."""
    if key in st.session_state:
        st.session_state[f"kept:{key}"] = st.session_state[key]
        del st.session_state[key]
