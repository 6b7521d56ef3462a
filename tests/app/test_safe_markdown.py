"""pages/_ui/safe_markdown.py: a person's text in Streamlit markdown is shown, never rendered (issue
#13). tests/e2e/test_links.py checks the same strings in chromium: no link, no markup."""
import pytest

from pages._ui.safe_markdown import escape_markdown

J = "\u2060"  # WORD JOINER: invisible; before a bare URL it keeps the renderer from linking it


@pytest.mark.parametrize("text, shown", [
    ("[text](http://evil.example)", f"\\[text\\]({J}http\\://evil.example)"),
    ("<http://evil.example>", f"\\<{J}http\\://evil.example\\>"),
    ("![i](https://evil.example/i.png)", f"!\\[i\\]({J}https\\://evil.example/i.png)"),
    ("see www.evil.example", f"see {J}www.evil.example"),
    ("mail a@evil.example", f"mail a@{J}evil.example"),
    ("*a* _b_ `c` ~~d~~ $x$ # | & \\", "\\*a\\* \\_b\\_ \\`c\\` \\~\\~d\\~\\~ \\$x\\$ \\# \\| \\& \\\\"),
    (":red[x] :material/home: :smile:", f"\\:{J}red\\[x\\] \\:{J}material/home\\: \\:{J}smile\\:"),
    ("1. item", "1\\. item"),
    ("- item", "\\- item"),
    ("line one\n\n# two", "line one  \\# two"),
    ("run 5 (word2vec on lee), 'abc'; 0.5!", "run 5 (word2vec on lee), 'abc'; 0.5!"),  # nothing to escape
])
def test_markup_in_a_persons_text_is_escaped(text, shown):
    assert escape_markdown(text) == shown


def test_any_object_is_shown_as_its_str():
    assert escape_markdown(ValueError("no run [5]")) == "no run \\[5\\]"
