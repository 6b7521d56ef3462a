"""The Embeddings map's two renderers side by side in a real browser: deck.gl (st.pydeck_chart, the
page's default) and Plotly's Scatter3d, on GloVe's 10k / 100k / 400k most frequent words (PCA, so
the projection costs nothing; coloured by frequency-rank quantiles, so no k-means either).

Starts the app (`streamlit run app.py`, its own data dir, UMAP warm-up off), and for each renderer and
size opens /embeddings?top=N&method=pca&colour=rank&renderer=R in headless Chromium (a fresh tab)
and measures:
  first:   seconds from navigation to the first points on screen (deck.gl: its canvas holds a
           drawn frame of the point layers; Plotly: its WebGL scene has the traces' points);
  full:    seconds to the whole map with its labels (the script run over, two more frames drawn);
  fps:     frames per second while rotating: scripted drags across the map for --drag seconds,
           requestAnimationFrame counted in the page (each frame redraws the scene);
  heap:    the page's JS heap (CDP Performance.getMetrics, JSHeapUsedSize) once the map is drawn;
  rss:     the resident memory of every process of this browser (browser, GPU, renderer), MB;
  payload: the map's message size as Streamlit sent it (deck.gl's JSON spec, Plotly's figure).
A size that does not finish within --timeout seconds is reported as such.

    python bench/embeddings_render.py                         # 10k, 100k, 400k; both renderers
    python bench/embeddings_render.py --sizes 10000 100000 --drag 4
    python bench/embeddings_render.py --sizes 10000 100000 --renderers deck deck-words   # the whole map as text

Headless Chromium draws WebGL on the CPU (SwiftShader): a GPU browser is far faster, so these figures
compare the renderers with each other, not with a desktop.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_training import CHROMIUM_ARGS, free_port, start_server  # noqa: E402

# Points on screen. deck.gl: the Deck instance keeps its layers; a layer with its attributes built
# and a frame drawn after it counts. Plotly: the scene's traces hold their points.
DRAWN = """(renderer) => {
  if (renderer === 'deck') {
    const canvas = document.querySelector('[data-testid=stDeckGlJsonChart] canvas');
    return !!canvas && canvas.width > 0 && !!window.__dpFrames;
  }
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => (gd.data || []).some(t => t.type === 'scatter3d'));
  return !!(gd && gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene
            && gd._fullLayout.scene._scene.glplot && gd.querySelector('canvas'));
}"""

# Count animation frames from now on (window.__dpFrames).
COUNT_FRAMES = """() => { window.__dpFrames = 0;
  const tick = () => { window.__dpFrames++; requestAnimationFrame(tick); }; requestAnimationFrame(tick); }"""


def browser_rss_mb(marker: str) -> float:
    """The resident memory of the browser started with `marker` among its flags and all its
    descendants (GPU, renderer, utility processes), from /proc."""
    parents, browser = {}, None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            if browser is None and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                browser = int(entry.name)
        except OSError:
            continue
    if browser is None:
        return float("nan")
    family, grew = {browser}, True
    while grew:
        new = {pid for pid, ppid in parents.items() if ppid in family} - family
        family |= new
        grew = bool(new)
    total = 0
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def measure(browser, cdp_page_factory, url: str, renderer: str, n: int, drag: float, timeout: float,
            marker: str) -> dict:
    page = cdp_page_factory()
    out = {"renderer": renderer, "n": n}
    try:
        page.goto(url)  # a fresh server registers its pages on the first session: Home first
        page.get_by_role("heading", name="Deep Playground").wait_for()
        started = time.perf_counter()
        kind, words = renderer.split("-")[0], "&words=1" if renderer.endswith("-words") else ""
        page.goto(f"{url}/embeddings?top={n}&method=pca&colour=rank&renderer={kind}{words}")
        page.evaluate(COUNT_FRAMES)
        page.wait_for_function(DRAWN, arg=kind, timeout=timeout * 1000, polling=50)
        out["first"] = time.perf_counter() - started
        page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout * 1000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        out["full"] = time.perf_counter() - started
        chart = page.locator("[data-testid=stDeckGlJsonChart] canvas" if kind == "deck" else
                             ".js-plotly-plot .gl-container canvas, .js-plotly-plot canvas").first
        box = chart.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.wait_for_timeout(1000)
        frames0 = page.evaluate("() => window.__dpFrames")
        t0 = time.perf_counter()
        page.mouse.move(cx, cy)
        page.mouse.down()
        step = 0
        while time.perf_counter() - t0 < drag:  # back and forth across the map
            step += 1
            page.mouse.move(cx + 150 * ((step % 40) / 20 - 1), cy + 20 * ((step % 10) / 5 - 1), steps=1)
        page.mouse.up()
        seconds = time.perf_counter() - t0
        out["fps"] = (page.evaluate("() => window.__dpFrames") - frames0) / seconds
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        out["heap_mb"] = metrics.get("JSHeapUsedSize", float("nan")) / 2**20
        out["rss_mb"] = browser_rss_mb(marker)
    except Exception as err:  # a size the renderer cannot draw in time is a result, not a crash
        out["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
    finally:
        page.close()
    return out


def payload_sizes(n: int) -> dict:
    """What each renderer's map costs to send: the deck.gl spec and the Plotly figure, as the page
    builds them for the same points and colours (bytes of JSON)."""
    import numpy as np

    from engine.embeddings import mapview, project
    from engine.embeddings.vectors import load_glove50
    from pages._ui import embeddings_deck as deck
    from pages._ui import embeddings_plot as plots
    wv = load_glove50()
    x = np.asarray(wv.vectors[:n], dtype=np.float32)
    coords = project.fit_transform(x, "pca", 3).coords
    bins, names = mapview.rank_bins(n, 8)
    palette = mapview.scale_colours(len(names))
    t = time.perf_counter()
    scene = deck.Scene(mapview.display_coords(coords), wv.words[:n],
                       [deck.Group(name, palette[c], np.flatnonzero(bins == c)) for c, name in enumerate(names)])
    spec, _ = deck.build(scene, cache=False)
    deck_bytes, deck_s = len(spec.to_json().encode()), time.perf_counter() - t
    t = time.perf_counter()
    fig = plots.cloud_figure(coords, wv.words[:n], bins, "category", names, labelled=list(range(30)), palette=palette)
    plotly_bytes, plotly_s = len(fig.to_json().encode()), time.perf_counter() - t
    return {"deck_mb": deck_bytes / 1e6, "deck_s": deck_s, "plotly_mb": plotly_bytes / 1e6, "plotly_s": plotly_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 400_000])
    parser.add_argument("--renderers", nargs="+", default=["deck", "plotly"])
    parser.add_argument("--drag", type=float, default=5.0, help="seconds of scripted rotation")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    for n in args.sizes:
        p = payload_sizes(n)
        print(f"payload {n:>7,}: deck.gl spec {p['deck_mb']:.1f} MB built in {p['deck_s']:.2f} s; "
              f"Plotly figure {p['plotly_mb']:.1f} MB built in {p['plotly_s']:.2f} s")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    marker = f"--dp-bench={uuid.uuid4().hex}"
    results = []
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        server = start_server(Path(data), port, Path(data) / "server.log")
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium,
                                             args=CHROMIUM_ARGS + ["--enable-precise-memory-info", marker])
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.set_default_timeout(args.timeout * 1000)
                for n in args.sizes:
                    for renderer in args.renderers:
                        r = measure(browser, context.new_page, url, renderer, n, args.drag, args.timeout, marker)
                        results.append(r)
                        if "error" in r:
                            print(f"{renderer:>6} {n:>7,}: {r['error']}" +
                                  (f" (first points at {r['first']:.1f} s)" if "first" in r else ""))
                        else:
                            print(f"{renderer:>6} {n:>7,}: first points {r['first']:.1f} s, full map {r['full']:.1f} s, "
                                  f"{r['fps']:.1f} fps rotating, JS heap {r['heap_mb']:.0f} MB, "
                                  f"browser RSS {r['rss_mb']:.0f} MB")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    out = ROOT / "test-output" / "embeddings-renderers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    os.environ.setdefault("DEEP_PLAYGROUND_NO_UMAP_WARMUP", "1")
    main()
