"""Saliency page state: the loaded classifier per (run, epoch), shared read-only by the sessions.

A checkpoint never changes once written, so the model built from it is cached for all sessions;
captum adds hooks to it for the length of one call (guided backprop rewires its ReLUs), so every
engine call on it holds the model's lock: two sessions never compute on it at the same time.
"""
from __future__ import annotations

import threading

import numpy as np
import streamlit as st

from engine.core.loading import LoadedRun, load_run, run_problem
from engine.core.runs import RunStore
from engine.saliency.classifiers import NEED
from engine.saliency.selection import classify_test_set


@st.cache_resource(max_entries=8, show_spinner="Loading the model...")
def classifier(store_root: str, source: str, epoch: int | None) -> tuple[LoadedRun, threading.Lock]:
    return load_run(RunStore(store_root), source, epoch, need=NEED), threading.Lock()


@st.cache_data(max_entries=16, show_spinner="Classifying the test set...")
def test_predictions(store_root: str, source: str, epoch: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) class of every test image, for the correct/incorrect filter."""
    clf, lock = classifier(store_root, source, epoch)
    with lock:
        return classify_test_set(clf.model, clf.data.x_val, clf.data.y_val)  # on the model's device


def describe_problem(store: RunStore, source: str) -> str:
    """Why a run handed over in the URL is not offered (not a CNN, no checkpoint, no such run)."""
    return run_problem(store, source, need=NEED) or "it is not a CNN trained on images"
