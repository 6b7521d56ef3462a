"""The Sweep tab in a real browser: a sweep run from the CLI into the server's data dir shows there,
with its heatmap of the metric over the two settings it varied."""
import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.helpers import heading, screenshot, settled

# The heatmap's cells as plotly holds them: {x, y, z} of the heatmap trace whose hover names val_acc.
HEATMAP = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => (gd.data || []).some(t => t.type === 'heatmap' && (t.hovertemplate || '').includes('val_acc')));
  if (!gd) return null;
  const t = gd.data.find(t => t.type === 'heatmap');
  const z = Array.from(t.z, row => Array.from(row));
  return {x: Array.from(t.x), y: Array.from(t.y), z: z, drawn: gd.querySelectorAll('.hm, image').length};
}"""


def test_a_cli_sweep_shows_its_heatmap_on_the_sweep_tab(page, app_url, app_data_dir, screenshots):
    pytest.importorskip("ray")
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(app_data_dir)}
    done = subprocess.run([sys.executable, "-m", "engine", "sweep", "--model", "mlp", "--dataset", "spiral",
                           "--grid", "lr=0.01,0.1", "--grid", "width=4,16", "--epochs", "2", "--batch-size", "16",
                           "--option", "n_samples=200", "--parallel", "2", "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and len(result["trials"]) == 4

    page.goto(app_url)  # the app first, as a person opens it
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?tab=Sweep&sweep={result['sweep_id']}")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_text(f"Sweep {result['sweep_id']}", exact=False).first.wait_for(state="visible")
    page.wait_for_function(f"({HEATMAP})() !== null && ({HEATMAP})().drawn > 0", timeout=60_000)
    settled(page)
    cells = page.evaluate(HEATMAP)
    assert (cells["x"], cells["y"]) == (["0.01", "0.1"], ["4", "16"])
    best = {(t["params"]["lr"], t["params"]["width"]): t["best"] for t in result["trials"]}
    assert cells["z"] == [[pytest.approx(best[(lr, w)]) for lr in (0.01, 0.1)] for w in (4, 16)]
    screenshot(page, screenshots / "sweep-tab.png")
