"""The Embeddings page in a real browser while a projection computes and while vectors train: t-SNE
runs in the background (the page answers a search meanwhile, the map shows t-SNE's layout so far),
and a Word2Vec map that moves epoch by epoch, then replays with the epoch slider."""
import re

from engine.embeddings.word2vec import CORPORA
from tests.e2e.helpers import screenshot
from tests.e2e.test_embeddings_page import DeckMaps, label_words, open_page, open_train_panel, pick, points


def test_switch_to_tsne_and_keep_working_while_it_computes(page, app_url, screenshots):
    maps = DeckMaps(page)
    open_page(page, app_url, "top=1000&method=tsne&colour=rank")
    pca = maps.wait(lambda spec: len(points(spec)) == 1000)  # PCA on screen until t-SNE is ready
    page.get_by_text("PCA of these 1,000 points until t-SNE is ready.").wait_for(state="visible")
    page.get_by_role("button", name="Run t-SNE on 1,000 points in 3D").click()
    page.get_by_text("t-SNE's layout so far (").first.wait_for(state="visible", timeout=120_000)
    # The page keeps working: a search is answered while t-SNE optimises in its own process.
    box = page.get_by_label("Search a word")
    box.fill("frog")
    box.press("Enter")
    page.get_by_text("Nearest to 'frog'").wait_for(state="visible", timeout=30_000)
    assert page.get_by_role("button", name="Cancel").count() == 1  # still running
    # t-SNE's layout so far (under the isolated search: the faded whole map, then frog placed on it)
    maps.wait(lambda spec: "faded" in spec["by_id"] and spec["by_id"]["faded"]["data"][:1000] != points(pca))
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "embeddings-tsne-animating.png")
    page.get_by_text(re.compile(r"TSNE of 1,000 points in [\d.]+ s")).wait_for(state="visible", timeout=300_000)
    assert page.get_by_role("button", name="Cancel").count() == 0
    done = maps.wait(lambda spec: label_words(spec, "searched") == ["frog"])  # the search kept through it all
    assert len(done["by_id"]["faded"]["data"]) > 1000  # the final map, frog and its rarer neighbours placed
    screenshot(page, screenshots / "embeddings-tsne-done.png")


LIVE_EPOCH = """() => { const t = [...document.querySelectorAll('.gtitle')].map(e => e.textContent)
  .find(t => t.startsWith("The vocabulary's map after epoch")); return t ? +t.match(/epoch (\\d+) of/)[1] : 0; }"""


def test_a_word2vec_map_moves_epoch_by_epoch_then_replays(page, app_url, screenshots):
    open_page(page, app_url, "w2v.epochs=30&w2v.vector_size=16")
    page.get_by_text("Trained here", exact=True).click()
    train = open_train_panel(page)
    pick(page, "Corpus", CORPORA["lee"])
    train.click()
    page.wait_for_function(f"({LIVE_EPOCH})() >= 1", timeout=120_000)
    first = page.evaluate(LIVE_EPOCH)
    page.wait_for_function(f"({LIVE_EPOCH})() > {first}", timeout=120_000)  # redrawn by itself, a later epoch
    page.evaluate("() => [...document.querySelectorAll('.gtitle')].find(t => t.textContent.startsWith("
                  "\"The vocabulary's map\")).closest('[data-testid=stPlotlyChart]').scrollIntoView()")
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / "embeddings-w2v-live-map.png")
    # Once it ends, the page's map shows the run per epoch, with a slider to replay it.
    page.get_by_text("Epoch 30's map: PCA of that epoch's vectors").wait_for(state="visible", timeout=180_000)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    slider = page.locator("input[type=range][aria-label='Epoch']")
    slider.focus()
    slider.press("Home")  # back to epoch 1
    page.get_by_text("Epoch 1's map: PCA of that epoch's vectors").wait_for(state="visible", timeout=60_000)
    box = page.get_by_label("Trace words over the epochs (space-separated)")
    box.fill("government police")
    box.press("Enter")
    page.get_by_text("Paths through the epochs:").wait_for(state="visible", timeout=60_000)
    screenshot(page, screenshots / "embeddings-w2v-epochs-trace.png")
