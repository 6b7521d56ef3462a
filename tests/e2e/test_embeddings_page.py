"""The Embeddings page in a real browser: GloVe projected with words on the map, "frog" searched and
isolated with its labelled neighbours, Escape back; then 100k points drawn (the time to the first frame is written for
bench/embeddings.py, never asserted); word vectors trained in their own process while the panel
follows them live, stopped, and shown when they end."""
import json
import re
import time

from engine.core.runs import RunStore
from engine.embeddings.word2vec import CORPORA
from tests.e2e.helpers import heading, screenshot

class DeckMaps:
    """The deck.gl maps the browser received (pages/_ui/embeddings_deck.py), read off the page's
    websocket: Streamlit sends each map's JSON spec inside its protobuf message, so the spec is
    found by its first key and decoded from there. What the browser got, not what the server meant."""

    def __init__(self, page):
        self.page = page
        self.specs: list[dict] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload):
        data = payload if isinstance(payload, (bytes, bytearray)) else payload.encode()
        at = data.find(b'{"initialViewState"')
        if at >= 0:
            spec, _ = json.JSONDecoder().raw_decode(data[at:].decode("utf-8", errors="replace"))
            spec["by_id"] = {layer["id"]: layer for layer in spec["layers"]}
            self.specs.append(spec)

    def wait(self, check, timeout: float = 120) -> dict:
        """The newest map for which check(map) is true, once the browser has drawn it (its canvas)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.specs and check(self.specs[-1]):
                self.page.wait_for_selector("[data-testid=stDeckGlJsonChart] canvas", timeout=timeout * 1000)
                return self.specs[-1]
            assert time.monotonic() < deadline, f"no such map; the last had {self.specs and points(self.specs[-1])}"
            self.page.wait_for_timeout(200)


def points(spec) -> list:
    """The map's coloured points: [x, y, z, word] rows."""
    return [row for layer in spec["layers"] if layer["id"].startswith("g") for row in layer["data"]]


def label_words(spec, layer_id) -> list[str]:
    layer = spec["by_id"].get(layer_id)
    return [row["t"] for row in layer["data"]] if layer else []


def open_page(page, app_url, query):
    page.goto(app_url)  # a fresh server registers its pages on the first session: Home first
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/embeddings?{query}")
    heading(page, "Embeddings").wait_for(state="visible", timeout=60_000)


def test_glove_words_on_the_map_then_frog_isolated_with_its_neighbours(page, app_url, screenshots):
    """A newcomer's first minute: the default map (the shipped UMAP of 10k words) as words; "frog"
    (word #12,261, rarer than the map's words) placed by its projected neighbours and isolated."""
    maps = DeckMaps(page)
    open_page(page, app_url, "")
    page.get_by_text("UMAP of 10,000 points (from the cache)").wait_for(state="visible")
    spec = maps.wait(lambda s: len(points(s)) == 10_000)
    assert label_words(spec, "tier0")[:3] == ["the", ",", "."] and len(label_words(spec, "tier1")) == 2000
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    page.wait_for_timeout(1500)  # let WebGL draw before the picture
    screenshot(page, screenshots / "embeddings-glove-words.png")

    box = page.get_by_label("Search a word")
    box.fill("frog")
    box.press("Enter")
    page.get_by_text("Nearest to 'frog'").wait_for(state="visible")
    table = page.get_by_test_id("stDataFrame").first
    for word in ("snake", "spider", "cat"):
        table.get_by_role("gridcell", name=word, exact=True, include_hidden=True).first.wait_for(state="attached")
    spec = maps.wait(lambda s: label_words(s, "searched") == ["frog"])
    assert {"snake", "spider", "cat"} <= set(label_words(spec, "emphasised"))   # labelled
    placed = [row[3] for row in spec["by_id"]["faded"]["data"][10_000:]]  # placed after the projected words
    assert placed[0] == "frog" and len(points(spec)) == 11  # frog and its neighbours in colour, the rest faded
    page.get_by_text("'frog' is word #12,261, outside the 10,000 words projected").wait_for(state="visible")
    frog = spec["by_id"]["searched"]["data"][0]["p"]
    assert spec["initialViewState"]["zoom"] > 2  # flown in close
    assert max(abs(a - b) for a, b in zip(spec["initialViewState"]["target"], frog)) < 100
    page.get_by_text("Isolated: 'frog' and").wait_for(state="visible")
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    page.wait_for_timeout(1500)
    screenshot(page, screenshots / "embeddings-frog-isolated.png")

    heading(page, "Embeddings").click()  # out of the search box: Escape is the page's, "Show all"
    page.keyboard.press("Escape")
    # The box is emptied by the rerun Escape starts (the caption may go a moment before it is).
    page.wait_for_function("() => document.querySelector('input[aria-label=\"Search a word\"]')?.value === ''")
    page.get_by_text("Isolated: 'frog' and").wait_for(state="detached")  # under load it can outlast the box's rerun
    # The whole map again: the same message as the first, which Streamlit's cache does not send twice.


def test_100k_points_render(page, app_url, screenshots):
    maps = DeckMaps(page)
    started = time.perf_counter()
    open_page(page, app_url, "top=100000&method=pca&colour=rank")
    navigated = time.perf_counter()
    maps.wait(lambda s: len(points(s)) == 100_000, timeout=180)
    drawn = time.perf_counter()
    page.wait_for_timeout(1500)
    page.screenshot(path=screenshots / "embeddings-glove-100k.png")
    (screenshots.parent / "embeddings-render.json").write_text(json.dumps(
        {"points": 100_000, "renderer": "deck.gl", "seconds_to_first_frame": round(drawn - navigated, 2),
         "seconds_including_home": round(drawn - started, 2)}))


def test_upload_vectors_then_a_broken_file(page, app_url, tmp_path, screenshots):
    good = tmp_path / "small.vec"
    rows = [f"w{i} " + " ".join(str((i * 7 + j) % 11 - 5) for j in range(4)) for i in range(40)]
    good.write_text("40 4\n" + "\n".join(rows) + "\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("alpha 1 2 3\nbeta 1 oops 3\n")
    maps = DeckMaps(page)
    open_page(page, app_url, "")
    page.get_by_text("Upload vectors", exact=True).click()
    page.get_by_text("Upload a vectors file to explore it").wait_for(state="visible")
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(good))
    page.get_by_text("small.vec: 40 words × 4 dimensions").wait_for(state="visible")
    maps.wait(lambda s: len(points(s)) == 40)
    page.wait_for_timeout(800)
    screenshot(page, screenshots / "embeddings-upload.png")
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(bad))
    page.get_by_text("Cannot read bad.txt: line 2, value 2: 'oops' is not a number").wait_for(state="visible")
    screenshot(page, screenshots / "embeddings-upload-error.png")


def colours(spec) -> dict:
    """word -> the colour of its layer."""
    return {row[3]: layer["getFillColor"][:3] for layer in spec["layers"] if layer["id"].startswith("g")
            for row in layer["data"]}


def map_count(page) -> int:
    return page.evaluate("() => document.querySelectorAll('[data-testid=stDeckGlJsonChart]').length")


def combobox_value(page, label):
    return page.evaluate("(label) => [...document.querySelectorAll('input[role=combobox]')]"
                         ".find(e => e.getAttribute('aria-label') === label)?.value", label)


def test_widgets_show_what_the_map_uses_through_tsne_evaluation_and_a_source_switch(page, app_url, tmp_path,
                                                                                     screenshots):
    """The browser walk of issue #13. Input: the link ?colour=rank, a 120-word upload; Colour by ->
    word group, Projection -> t-SNE, Run, Evaluate these vectors, then GloVe. The box read
    "frequency rank" over a map coloured by word group, Evaluate switched the colours back, reset
    the tabs and left a faded second map, and the next vectors showed "UMAP" beside "Run t-SNE"."""
    words = ["red", "green", "blue"] + [f"w{i}" for i in range(3, 120)]
    rows = [f"{w} " + " ".join(str(((i * 7 + j * 3) % 17) - 8) for j in range(6)) for i, w in enumerate(words)]
    vec = tmp_path / "walk.vec"
    vec.write_text("120 6\n" + "\n".join(rows) + "\n")
    maps = DeckMaps(page)
    open_page(page, app_url, "colour=rank")
    page.get_by_text("Upload vectors", exact=True).click()
    page.get_by_text("Upload a vectors file to explore it").wait_for(state="visible")
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")  # the switch's run over: the upload sticks
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(vec))
    maps.wait(lambda s: len(points(s)) == 120)
    assert combobox_value(page, "Colour by") == "frequency rank"
    pick(page, "Colour by", "word group")
    pick(page, "Projection", "t-SNE")
    page.get_by_role("button", name="Run t-SNE on 120 points in 3D").click()
    page.get_by_text("TSNE of 120 points in").wait_for(state="visible", timeout=120_000)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    assert combobox_value(page, "Colour by") == "word group"
    group = maps.wait(lambda s: colours(s)["red"] == [0xD5, 0x5E, 0x00])
    coloured = colours(group)
    assert coloured["green"] == coloured["blue"] == [0xD5, 0x5E, 0x00] != coloured["w3"]  # the group
    assert map_count(page) == 1

    page.get_by_role("tab", name="Evaluate").click()
    page.get_by_role("button", name="Evaluate these vectors").click()
    page.get_by_text("too few pairs in the vocabulary").first.wait_for(state="attached", timeout=120_000)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    assert page.get_by_role("tab", name="Evaluate").get_attribute("aria-selected") == "true"
    assert combobox_value(page, "Colour by") == "word group"
    assert colours(maps.specs[-1]) == coloured and map_count(page) == 1  # one map, coloured as before
    heading(page, "Embeddings").scroll_into_view_if_needed()  # the picture from the top of the page
    screenshot(page, screenshots / "embeddings-walk-evaluated.png")

    page.get_by_text("GloVe 6B 50d", exact=True).click()
    page.get_by_role("button", name="Run t-SNE on 10,000 points in 3D").wait_for(state="visible")
    # Once the run is over: one perplexity input (GloVe's), the box reading t-SNE.
    page.wait_for_function("() => document.querySelectorAll('input[aria-label=perplexity]').length === 1")
    assert combobox_value(page, "Projection") == "t-SNE"


def test_train_vectors_live_then_stop(page, app_url, app_data_dir, screenshots):
    """Word2Vec on the Wikipedia sample trains in its own process: the progress bar and the loss
    curve move on their own (the panel polls the run store), Stop ends the run within a second and
    the finished epochs' vectors are listed to explore."""
    open_page(page, app_url, "w2v.epochs=40&w2v.vector_size=16")
    page.get_by_text("Trained here", exact=True).click()
    train = open_train_panel(page)
    train.click()
    bar = page.get_by_test_id("stProgress")
    # The bar's text after an epoch, e.g. "Run 3: epoch 2 of 40: loss 7.1234 per word · 512,000 words/s".
    page.wait_for_function(
        "() => /Run \\d+: epoch \\d+ of 40: loss [\\d.]+ per word/.test("
        "document.querySelector('[data-testid=stProgress]')?.innerText || '')", timeout=120_000)
    first = bar.inner_text()
    epoch = int(first.split("epoch ")[1].split(" of")[0])
    page.wait_for_function(  # a later epoch, drawn without any click: the panel follows the run live
        f"() => {{ const m = (document.querySelector('[data-testid=stProgress]')?.innerText || '')"
        f".match(/epoch (\\d+) of 40: loss/); return m && +m[1] > {epoch}; }}", timeout=120_000)
    page.get_by_text("Training loss per word, by epoch").first.wait_for(state="visible")
    bar.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / "embeddings-train-live.png")

    run_id = int(bar.inner_text().split("Run ")[1].split(":")[0])
    page.get_by_role("button", name="Stop").click()
    # The page redraws once with the run listed and shown: its finished epochs' vectors are kept.
    page.get_by_text(f"run {run_id} (word2vec on wikipedia)").first.wait_for(state="visible", timeout=15_000)
    assert bar.count() == 0
    run = RunStore(app_data_dir / "runs").get_run(run_id)
    assert run.status == "stopped" and run.message.startswith("stopped by the user")
    assert run.final["epochs"] > epoch
    screenshot(page, screenshots / "embeddings-train-stopped.png")


def test_trained_vectors_are_shown_when_the_run_ends(page, app_url, app_data_dir, screenshots):
    """A run that ends on its own is picked in "Trained run" (even with other runs listed, e.g. the
    test above's) and its vectors drawn, by the one redraw the panel triggers when it sees the end."""
    open_page(page, app_url, "w2v.epochs=3&w2v.vector_size=8")
    page.get_by_text("Trained here", exact=True).click()
    train = open_train_panel(page)
    pick(page, "Corpus", CORPORA["lee"])
    train.click()
    shown = page.get_by_text(re.compile(r"run \d+ \(word2vec on lee\)")).first
    shown.wait_for(state="visible", timeout=120_000)
    run_id = int(shown.inner_text().split("run ")[1].split(" ")[0])
    run = RunStore(app_data_dir / "runs").get_run(run_id)
    assert run.status == "completed" and run.final["epochs"] == 3
    page.wait_for_selector("[data-testid=stDeckGlJsonChart] canvas")
    screenshot(page, screenshots / "embeddings-train-completed.png")


def open_train_panel(page):
    """Open "Train new vectors with gensim" (open by itself only while no vectors were trained);
    returns its Train button."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    page.get_by_text("Train new vectors with gensim").wait_for(state="visible")  # the source's rerun drew it
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    train = page.get_by_role("button", name="Train vectors")
    try:
        train.wait_for(state="visible", timeout=10_000)
    except PlaywrightTimeout:
        page.get_by_text("Train new vectors with gensim").click()
    return train


def pick(page, label, option):
    """Choose `option` in the selectbox `label`; again if its menu closed before the click (it
    closes when the page below it reflows, e.g. while the 3D plot of the listed run first draws)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for _ in range(5):
        page.get_by_label(label, exact=True).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    page.wait_for_function("([label, option]) => [...document.querySelectorAll('input[role=combobox]')]"
                           ".some(e => e.getAttribute('aria-label') === label && e.value === option)",
                           arg=[label, option])
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
