"""The default Embeddings map (UMAP of GloVe's 10k most frequent words, 3D, default params): how
long a fresh process takes to compute it (numba compile + fit), and the shipped copy in
assets/projections/ (float16 coordinates, named by the projection cache's content hash).

    .venv/bin/python bench/default_map.py            # measure in a fresh data dir, write the asset

Measured on the 2-core dev machine (busy): 55 s from a fresh process (compile + fit), too long for
a page that should show the map as it opens: so the map ships (52 KB) and project.cached() finds it.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    os.environ["DEEP_PLAYGROUND_DATA"] = tempfile.mkdtemp(prefix="default-map-")
    from engine.embeddings import project
    from engine.embeddings.vectors import load_glove50
    x = np.asarray(load_glove50().vectors[:project.DEFAULT_MAP_WORDS], dtype=np.float32)
    params = {**project.DEFAULTS["umap"], "seed": 0}
    key = project.content_hash(x, "umap", 3, params)
    started = time.perf_counter()
    result = project.fit_transform(x, "umap", 3, use_cache=False)
    seconds = time.perf_counter() - started
    print(f"UMAP of {len(x):,} GloVe words in 3D from a fresh process (numba compile + fit): {seconds:.1f} s")
    project.SHIPPED.mkdir(parents=True, exist_ok=True)
    meta = {"method": "umap", "params": params, "explained_variance": None, "seconds": result.seconds}
    path = project.shipped_path(key)
    np.savez_compressed(path, coords=result.coords.astype(np.float16), meta=np.array(json.dumps(meta)))
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
