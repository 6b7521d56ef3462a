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


# The lines the Vega-Lite charts drew (pages/_ui/training_charts.py: the curves), read from their SVG:
# Vega's SVG renderer keeps each line's scene item on its path (`__data__`), whose mark holds the
# line's points and their rows. One {series, kind, n, last} per line, `last` the newest x drawn.
DRAWN_LINES = """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart] svg path')]
  .map(p => p.__data__).filter(d => d && d.mark && d.mark.marktype === 'line' && d.mark.items.length)
  .map(d => { const items = d.mark.items, row = items[0].datum;
              return {series: row.series, kind: row.kind || null, n: items.length,
                      last: items[items.length - 1].datum.x}; })"""
