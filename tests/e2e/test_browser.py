"""The real app in headless chromium: Home renders, the sidebar reaches every page.

Each test asks for `page` first, so a machine without chromium skips before starting a server.
"""
from engine.core.device import describe, pick_device
from engine.core.runs import RunStore
from pages._ui.nav import PAGES
from tests.e2e.helpers import heading, screenshot



def test_home_then_every_page_from_the_sidebar(page, app_url, screenshots):
    page.goto(app_url)
    # Streamlit renders only once the websocket is up: wait for the heading, not for "load".
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)

    device = describe(pick_device())
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text(device).wait_for(state="visible")
    page.get_by_text("No runs yet").wait_for(state="visible")
    screenshot(page, screenshots / "home.png")

    nav = page.get_by_test_id("stSidebarNav")
    for info in PAGES:  # every page from its sidebar link
        if info.file in ("home.py", "train.py"):
            continue
        nav.get_by_role("link", name=info.title, exact=True).click()
        heading(page, info.title).wait_for(state="visible")


def test_home_cards_link_to_pages(page, app_url):
    page.goto(app_url)
    # The test before opened every page: beside other work, the server may still be finishing those
    # pages' scripts (GloVe, MiniLM, saliency maps) when this fresh session asks for Home.
    heading(page, "Deep Playground").wait_for(state="visible", timeout=180_000)
    page.get_by_test_id("stMain").get_by_role("link", name="Saliency").click()
    heading(page, "Saliency").wait_for(state="visible")
    assert page.url.rstrip("/").endswith("/saliency")


def test_home_lists_a_run_made_outside_the_app(page, app_url, app_data_dir, screenshots):
    # Runs last: it leaves a run in the server's data dir, and the tests above expect none.
    store = RunStore(app_data_dir / "runs")
    run_id = store.create_run("cnn", "mnist", {"lr": 0.001})
    store.set_status(run_id, "completed", final={"val_acc": 0.981})

    page.goto(app_url)
    heading(page, "Recent runs").wait_for(state="visible", timeout=60_000)
    runs = page.get_by_test_id("stDataFrame")
    for cell in ("completed", "cnn", "0.981"):
        # The grid draws on a canvas; its cells are also in the DOM, hidden, for screen readers.
        runs.get_by_role("gridcell", name=cell, exact=True, include_hidden=True).first.wait_for(state="attached")
    screenshot(page, screenshots / "home-with-runs.png")
