"""The real app in headless chromium: Home renders, the sidebar reaches every page.

Each test asks for `page` first, so a machine without chromium skips before starting a server.
"""
from engine.device import describe, pick_device
from engine.runs import RunStore

PLACEHOLDERS = [  # (sidebar link, page title, screenshot name)
    ("Training", "Training", "training"),
    ("Embeddings", "Embeddings", "embeddings"),
    ("Saliency", "Saliency", "saliency"),
    ("Attention", "Attention", "attention"),
    ("Latent space", "Latent space", "latent"),
]


def heading(page, text):
    return page.get_by_role("heading", name=text, exact=True)


def settled(page):
    """Wait until the script run is over and every table has drawn its cells (the data grid is
    loaded lazily, after the rest of the page)."""
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stDataFrame]')]"
        ".every(e => e.querySelector('canvas') && e.querySelectorAll('[role=gridcell]').length > 0)")


def screenshot(page, path):
    """The whole page. Streamlit scrolls inside its main container, not the document, so a
    full_page screenshot alone stops at the viewport: grow the viewport to the content first."""
    settled(page)
    size = page.viewport_size
    height = size["height"]
    for _ in range(5):  # growing the viewport reflows the page: repeat until the height holds
        needed = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
        if needed <= height:
            break
        height = needed
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(300)
    settled(page)
    page.wait_for_timeout(1000)  # data grids redraw their canvas after a resize
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


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
    for link, title, name in PLACEHOLDERS:
        nav.get_by_role("link", name=link, exact=True).click()
        heading(page, title).wait_for(state="visible")
        page.get_by_text("Coming next").wait_for(state="visible")
        if name == "training":
            page.get_by_text("python -m engine train").first.wait_for(state="visible")
        screenshot(page, screenshots / f"{name}.png")


def test_home_cards_link_to_pages(page, app_url):
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
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
