"""The "Suggested settings" button of the Training page: one click sets the model and every knob to
settings that fit the chosen dataset quickly (engine/data/suggested.py), through the widgets' own
session state, so the sliders show them and the URL carries them like any other setting."""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from engine.core.registry import TRAINING_PARAMS, ModelSpec
from engine.data import get_info
from engine.data.suggested import Suggestion, suggested
from pages._ui.safe_markdown import escape_markdown


def suggested_state(dataset: str, suggestion: Suggestion, spec: ModelSpec) -> dict[str, tuple]:
    """The suggestion as widget key -> (value, its param's default): its model and dataset, its
    values, and every other setting of the model, the training and the data at its default, so the
    run it starts is the suggestion, whatever was set before."""
    state = {"model": (suggestion.model, None), "dataset": (dataset, None)}
    for prefix, params, values in ((f"{spec.name}.", spec.params, suggestion.values), ("", TRAINING_PARAMS,
                                   suggestion.values), (f"{dataset}.", get_info(dataset).params,
                                                        suggestion.dataset_options)):
        for param in params:
            state[f"{prefix}{param.name}"] = (param.coerce(values.get(param.name, param.default)), param.default)
    return state


def url_text(value) -> str:
    """A setting as a bound widget writes it into the URL (a switch as true / false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _apply(dataset: str, suggestion: Suggestion, spec: ModelSpec) -> None:
    # A callback runs before the script, so the widgets are drawn with these values. Streamlit writes
    # a value set through st.session_state into the URL only for a widget the page drew before (it
    # refuses a direct write to such a widget's parameter): a suggestion that changes the model sets
    # widgets the page has not drawn yet, whose values are written into the URL here (else the link
    # would have lost "playground.sin_x1", say).
    for key, (value, default) in suggested_state(dataset, suggestion, spec).items():
        st.session_state[key] = value
        if default is None:
            continue
        try:
            if value == default:
                st.query_params.pop(key, None)  # a default stays out of the URL, as the widgets leave it
            else:
                st.query_params[key] = url_text(value)
        except StreamlitAPIException:
            pass  # a widget drawn before: its value reaches the URL through the session state


def describe(suggestion: Suggestion, spec: ModelSpec) -> str:
    settings = ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                         for name, value in suggestion.values.items())
    reaches = f": {suggestion.reaches}" if suggestion.reaches else ""
    return f"{spec.title}, {settings}{reaches}"


def suggestion_button(dataset: str, specs: dict) -> None:
    """The button, for a dataset that has suggested settings (and a model here to apply them to)."""
    suggestion = suggested(dataset)
    if suggestion is None or suggestion.model not in specs:
        return
    spec = specs[suggestion.model]
    st.button("Suggested settings", icon=":material/auto_fix_high:", key="suggested_settings",
              on_click=_apply, args=(dataset, suggestion, spec),
              help="set the model and every setting to ones that fit this dataset quickly")
    st.caption(escape_markdown(describe(suggestion, spec)))


def open_on_suggestion(dataset: str, specs: dict) -> None:
    """A first visit (no setting in the URL, none in this session) starts from the dataset's
    suggested settings: Start with what the page shows fits it, as TF Playground fits its sets in
    seconds. A link with settings, or a session that has set any, is left as it is."""
    if "model" in st.session_state or len(st.query_params):
        return
    suggestion = suggested(dataset)
    if suggestion is not None and suggestion.model in specs:
        _apply(dataset, suggestion, specs[suggestion.model])
