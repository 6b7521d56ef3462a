"""Shared browser-test helpers: find headings, wait for Streamlit to settle, full-page screenshots."""


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
        # The main column's content (a plotly svg can report a scrollHeight of thousands of pixels).
        needed = page.evaluate(
            "() => { const c = document.querySelector('[data-testid=stMainBlockContainer]');"
            " return c ? Math.ceil(c.getBoundingClientRect().top + c.scrollHeight) :"
            " Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight)); }")
        if needed <= height:
            break
        height = needed
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(300)
    settled(page)
    page.wait_for_timeout(1000)  # data grids redraw their canvas after a resize
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)
