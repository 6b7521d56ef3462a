"""Widgets generated from the engine's Param schema, bound to the URL query string.

Every widget uses `bind="query-params"`, so the page's settings round-trip through the URL: a
shared link opens with the same model, dataset and values (defaults are left out of the URL).
A setting the others make unused (momentum with Adam: `Param.when`) is not shown at all.
"""
from __future__ import annotations

import streamlit as st

from engine.core.params import Param, ParamError, log_ladder

SEED_LIKE = ("seed",)


def _format(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def rungs(param: Param, key: str) -> list:
    """A log slider's values: its ladder, and a value between two rungs that this session holds
    (Suggested settings put it there) or the URL names, when the schema accepts it: a suggested
    batch of 10 stays 10 (not the nearest rung), and the link it leaves opens with it."""
    values = log_ladder(param)
    for given in (st.session_state.get(key), st.query_params.get(key)):
        try:
            value = param.coerce(given) if given is not None else None
        except ParamError:
            continue
        if value is not None and value not in values:
            values = sorted({*values, value})
    return values


def param_input(param: Param, key: str, disabled: bool = False):
    """Render one Param as the widget a person expects; returns its value."""
    common = dict(key=key, help=param.help or None, disabled=disabled, bind="query-params")
    label = param.title
    if param.kind == "bool":
        return st.toggle(label, value=param.default, **common)
    if param.kind == "choice":
        return st.selectbox(label, param.choices, index=param.choices.index(param.default), **common)
    if param.log:
        return st.select_slider(label, options=rungs(param, key), value=param.default,
                                format_func=_format, **common)
    if param.name in SEED_LIKE or param.high - param.low > 5000:
        return st.number_input(label, min_value=int(param.low), max_value=int(param.high),
                               value=param.default, step=1, **common)
    if param.kind == "int":
        return st.slider(label, int(param.low), int(param.high), int(param.default), **common)
    step = 0.05 if param.high - param.low <= 1 else 0.1
    return st.slider(label, float(param.low), float(param.high), float(param.default), step=step, **common)


def param_inputs(params, prefix: str = "", disabled: bool = False, columns: int = 2) -> dict:
    """The params of a schema in a grid, less those the values chosen above them make unused; then
    the switches, each on a line of its own (a switch's label does not wrap: in a narrow column it
    was cut to "batchn..."). Returns {name: value} of the params shown."""
    values = {}
    cols = st.columns(columns)
    switches = []
    for param in params:
        if not param.applies(values):
            continue
        if param.kind == "bool":
            switches.append(param)
            continue
        with cols[len(values) % columns]:
            values[param.name] = param_input(param, f"{prefix}{param.name}", disabled)
    for param in switches:
        values[param.name] = param_input(param, f"{prefix}{param.name}", disabled)
    return values
