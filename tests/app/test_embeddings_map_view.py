"""AppTest of the Embeddings map's view: a bookmarked link brings back the search, the selection and
the clusters; a saved view (JSON) loaded back sets the widgets and the map; a click's selection
isolates the points it picked."""
import json

from streamlit.testing.v1 import AppTest

from engine.embeddings import mapview
from tests.app.test_embeddings_page import PAGE, app_env, cloud_words, deck_map, labels, ok, widget  # noqa: F401


def test_a_bookmarked_link_opens_the_same_view():
    view = mapview.Bookmark(top=20_000, q="frog", k=5, clusters=7, selection=["cat", "dog"])
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in view.to_query().items():
        at.query_params[key] = value
    at.run()
    ok(at)
    assert widget(at, "query").value == "frog" and widget(at, "k").value == 5
    assert widget(at, "n_clusters:glove50").value == 7
    assert labels(at, "searched") == ["frog"]
    isolated = set(cloud_words(at))
    neighbours = next(d.value for d in at.dataframe if d.value.columns[0] == "word")
    placed = int((~neighbours["projected"]).sum())  # rarer than the 20k projected: placed by their neighbours
    assert placed and {"frog", "cat", "dog"} <= isolated
    assert len(deck_map(at)["by_id"]["faded"]["data"]) == 20_000 + placed
    assert {"cat", "dog"} <= set(labels(at, "emphasised"))


def test_a_saved_view_loads_back_into_the_widgets_and_the_map():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    ok(at)
    saved = mapview.Bookmark(q="king", k=3, colour="rank").to_json().encode()
    uploader = next(u for u in at.get("file_uploader") if u.proto.id.endswith("bookmark_file"))
    uploader.set_value(("view.json", saved, "application/json")).run()
    ok(at)
    assert widget(at, "query").value == "king" and widget(at, "colour_by:True").value == "rank"
    assert labels(at, "searched") == ["king"] and len(labels(at, "emphasised")) == 3


def test_plotly_stays_one_click_away_with_the_same_search_and_colours():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["renderer"] = "plotly"
    at.query_params["q"] = "king"
    at.run()
    ok(at)
    assert not at.get("deck_gl_json_chart")
    fig = next(json.loads(e.proto.spec) for e in at.get("plotly_chart") if e.proto.id.endswith("-cloud"))
    traces = {t.get("name"): t for t in fig["data"]}
    assert traces["searched"]["text"] == ["king"] and "queen" in traces["neighbours"]["text"]
    palette = mapview.category_palette(10)  # k-means clusters in colour-blind-safe colours, named by top words
    clusters = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert [t["marker"]["color"] for t in clusters] == palette and clusters[0]["name"].count(",") == 2
    widget(at, "renderer").set_value("deck").run()
    ok(at)
    assert labels(at, "searched") == ["king"]
