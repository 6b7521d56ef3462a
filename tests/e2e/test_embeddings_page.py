"""The Embeddings page in a real browser: GloVe projected, a word searched, neighbours listed and
highlighted in the 3D plot; then 100k points drawn (the time to the first frame is written for
bench/embeddings.py, never asserted)."""
import json
import time

from tests.e2e.helpers import heading, screenshot

# Plotly keeps each chart's decoded data on its div: count the points of the word cloud's traces.
CLOUD = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => (gd.data || []).some(t => t.type === 'scatter3d'));
  if (!gd || !gd._fullData) return null;
  const traces = gd._fullData;
  const named = n => traces.find(t => t.name === n);
  const text = t => t ? Array.from(t.text) : null;
  return {points: traces.filter(t => !['labels', 'searched', 'neighbours'].includes(t.name))
                        .reduce((n, t) => n + (t._length || 0), 0),
          searched: text(named('searched')), neighbours: text(named('neighbours')),
          drawn: !!gd.querySelector('canvas')};
}"""


def open_page(page, app_url, query):
    page.goto(app_url)  # a fresh server registers its pages on the first session: Home first
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/embeddings?{query}")
    heading(page, "Embeddings").wait_for(state="visible", timeout=60_000)


def test_glove_5k_search_neighbours_and_plot(page, app_url, screenshots):
    open_page(page, app_url, "top=5000&method=pca")
    page.get_by_text("PCA variance explained per axis").wait_for(state="visible")
    page.wait_for_function(f"(({CLOUD})() || {{}}).points === 5000")
    page.wait_for_timeout(1000)  # let WebGL draw before the picture
    screenshot(page, screenshots / "embeddings-glove-5k.png")

    box = page.get_by_label("Search a word")
    box.fill("king")
    box.press("Enter")
    page.get_by_text("Nearest to 'king'").wait_for(state="visible")
    table = page.get_by_test_id("stDataFrame").first
    for word in ("queen", "prince", "throne"):
        table.get_by_role("gridcell", name=word, exact=True, include_hidden=True).first.wait_for(state="attached")
    page.wait_for_function(f"(({CLOUD})() || {{}}).searched?.[0] === 'king'")
    cloud = page.evaluate(CLOUD)
    assert cloud["points"] == 5000 and "queen" in cloud["neighbours"]
    page.wait_for_timeout(1000)
    screenshot(page, screenshots / "embeddings-search-king.png")


def test_100k_points_render(page, app_url, screenshots):
    started = time.perf_counter()
    open_page(page, app_url, "top=100000&method=pca&colour=rank")
    navigated = time.perf_counter()
    page.wait_for_function(f"(({CLOUD})() || {{}}).points === 100000 && ({CLOUD})().drawn", timeout=180_000)
    drawn = time.perf_counter()
    page.wait_for_timeout(1500)
    page.screenshot(path=screenshots / "embeddings-glove-100k.png")
    (screenshots.parent / "embeddings-render.json").write_text(json.dumps(
        {"points": 100_000, "seconds_to_first_frame": round(drawn - navigated, 2),
         "seconds_including_home": round(drawn - started, 2)}))


def test_upload_vectors_then_a_broken_file(page, app_url, tmp_path, screenshots):
    good = tmp_path / "small.vec"
    rows = [f"w{i} " + " ".join(str((i * 7 + j) % 11 - 5) for j in range(4)) for i in range(40)]
    good.write_text("40 4\n" + "\n".join(rows) + "\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("alpha 1 2 3\nbeta 1 oops 3\n")
    open_page(page, app_url, "")
    page.get_by_text("Upload vectors", exact=True).click()
    page.get_by_text("Upload a vectors file to explore it").wait_for(state="visible")
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(good))
    page.get_by_text("small.vec: 40 words × 4 dimensions").wait_for(state="visible")
    page.wait_for_function(f"(({CLOUD})() || {{}}).points === 40")
    page.wait_for_timeout(800)
    screenshot(page, screenshots / "embeddings-upload.png")
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(bad))
    page.get_by_text("Cannot read bad.txt: line 2, value 2: 'oops' is not a number").wait_for(state="visible")
    screenshot(page, screenshots / "embeddings-upload-error.png")
