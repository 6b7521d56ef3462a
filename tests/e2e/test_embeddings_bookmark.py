"""The Embeddings map's bookmarks and exports in a real browser: the view written into the link, saved
as JSON, exported as PNG and as an offline HTML file; a saved view loaded back brings its projection
(a setting above the map's fragment), its size and its search."""
import json
from pathlib import Path

from tests.e2e.helpers import heading, screenshot
from tests.e2e.test_embeddings_page import DeckMaps, label_words, open_page, points


def panel(page):
    return page.get_by_test_id("stExpander").filter(has_text="Bookmark and export this view")


def download(page, button: str) -> bytes:
    with page.expect_download(timeout=120_000) as event:
        page.get_by_role("button", name=button).click()
    return Path(event.value.path()).read_bytes()


def test_a_view_bookmarked_saved_exported_then_loaded_back(page, app_url, tmp_path, screenshots):
    maps = DeckMaps(page)
    open_page(page, app_url, "")
    maps.wait(lambda spec: len(points(spec)) == 10_000)
    box = page.get_by_label("Search a word")
    box.fill("king")
    box.press("Enter")
    maps.wait(lambda spec: label_words(spec, "searched") == ["king"])
    page.get_by_text("Bookmark and export this view").click()

    page.get_by_role("button", name="Bookmark in the link").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'king'")
    view = json.loads(download(page, "Save the view (JSON)"))
    assert (view["q"], view["top"], view["method"], view["dims"]) == ("king", 10_000, "umap", 3)
    assert download(page, "PNG of this view")[:8] == b"\x89PNG\r\n\x1a\n"
    html = download(page, "Standalone HTML (offline)").decode("utf-8")
    assert '<script src="http' not in html and "Plotly.newPlot" in html and '"queen"' in html

    # A saved view with another projection and size, loaded into a fresh page.
    view.update(method="pca", top=5000, q="queen", k=4)
    saved = tmp_path / "view.json"
    saved.write_text(json.dumps(view))
    open_page(page, app_url, "")
    maps.wait(lambda spec: len(points(spec)) == 10_000)
    page.get_by_text("Bookmark and export this view").click()
    panel(page).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(saved))
    spec = maps.wait(lambda spec: label_words(spec, "searched") == ["queen"]
                     and len(spec["by_id"].get("faded", {}).get("data", [])) == 5000)
    assert len(label_words(spec, "emphasised")) == 4
    page.get_by_text("PCA variance explained per axis").wait_for(state="visible")
    assert page.get_by_label("Search a word").input_value() == "queen"
    heading(page, "Embeddings").scroll_into_view_if_needed()  # the picture from the top of the page
    screenshot(page, screenshots / "embeddings-view-loaded.png")
