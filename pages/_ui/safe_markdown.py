"""Text a person supplied (a URL's query value, an upload's name, a file's words) shown inside
Streamlit's markdown (st.error, st.warning, st.info, st.markdown, st.caption) as the characters
it is, never as markup: `?run=[text](http://...)` must not become a link in the app's own box.

- Backslash escapes (CommonMark lets any ASCII punctuation be escaped) for the characters that
  make links, images, HTML, code, emphasis, headings, tables, strikethrough, `$maths$`, and
  Streamlit's `:material/icon:` and `:red[...]`; an escaped colon also stops the parser reading
  "http://" as a link. Only those: with brackets escaped, `(`, `!` and `.` make nothing, and left
  alone they keep the markdown source readable ("run 5 (word2vec on lee)" stays as it is).
- Line breaks become spaces (the text stays in its line: no list, quote or heading can start),
  and a list marker at the very start is escaped.
- Bare URLs: GitHub-flavoured markdown links `http://...`, `www.x.y` and `a@b.c` wherever they
  start a word, and Streamlit's renderer finds them in the text after escapes are resolved, so
  escapes do not stop them (checked in chromium). It links one only after a space, punctuation or
  nothing, so a WORD JOINER (U+2060, invisible, not a space) before it keeps it plain text. One
  after a colon keeps ":material/home:" and ":smile:" text, not an icon or an emoji.
"""
from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_\[\]<>#|~$&:])")
_LIST_MARKER = re.compile(r"^(\s*)(\d+[.)]|[-+=])")  # "1. ", "3) ", "- ", "+ " at the start, "===" under a line
_LINK_STARTS = re.compile(r"https?\\:|www\.", re.IGNORECASE)  # "http:" once escaped, "www."
# ":material/home:" and ":smile:" become an icon and an emoji even with the colon escaped.
_NAME_AFTER_COLON = re.compile(r"\\:(?=[A-Za-z0-9+-])")
_WORD_JOINER = "\u2060"


def escape_markdown(text: object) -> str:
    """`text` (str() of it), to put into Streamlit markdown: shown as it is, no link or markup in it."""
    text = " ".join(str(text).splitlines())
    text = _MARKUP.sub(r"\\\1", text)
    text = _LIST_MARKER.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", text)
    text = _LINK_STARTS.sub(lambda m: _WORD_JOINER + m.group(0), text)
    text = text.replace("@", "@" + _WORD_JOINER)  # "a@b.c": no e-mail link starts after the "@"
    return _NAME_AFTER_COLON.sub(lambda m: m.group(0) + _WORD_JOINER, text)
