"""HTML read into markup and blocks, and written back with inline elements placed by hand-made alignments,
model-free (markup.py)."""

from types import SimpleNamespace

import pytest

from nmt.text import htmlparse
from nmt.text.markup import VOID


def translated(source: str, pieces: list[str], target: list[tuple[str, int]]) -> SimpleNamespace:
    """A sentence's translation as Translator gives it with alignments: target (piece, the source piece it
    attends to), each row 0.9 there and the rest spread over the other source pieces."""
    n = len(pieces)
    rows = [[0.9 if j == at else 0.1 / max(1, n - 1) for j in range(n)] for _, at in target]
    rows.append([1.0 / n] * n)  # "</s>"
    text = "".join(p.replace("▁", " ") for p, _ in target).strip()
    record = {"source": pieces, "target": [p for p, _ in target] + ["</s>"], "weights": rows}
    return SimpleNamespace(text=text, sentences=[{"source": source, "text": text, "alignment": record}])


def plain(text: str) -> SimpleNamespace:
    """A translation without alignments (a model without attention)."""
    return SimpleNamespace(text=text, sentences=[])


def tags(page: str) -> list[str]:
    """Every tag, comment and declaration of a page as written, in order."""
    return [raw for kind, _, _, raw in htmlparse.events(page) if kind not in ("data", "entity")]


def balanced(page: str) -> bool:
    """Is every element closed, in order (void elements aside)?"""
    stack = []
    for kind, name, _, _ in htmlparse.events(page):
        if kind == "start" and name not in VOID:
            stack.append(name)
        elif kind == "end" and (not stack or stack.pop() != name):
            return False
    return not stack


def test_the_docstring_example():
    doc = htmlparse.parse('<p>Ein <b>großer</b> Hund.</p>')
    assert doc.texts() == ["Ein großer Hund."]
    # source pieces ▁Ein ▁großer ▁Hund . (0-3); "big" attends to "großer" (1)
    t = translated("Ein großer Hund.", ["▁Ein", "▁großer", "▁Hund", "."],
                   [("▁A", 0), ("▁big", 1), ("▁dog", 2), (".", 3)])
    assert doc.render([t]) == '<p>A <b>big</b> dog.</p>'


def test_markup_outside_the_text_is_kept_as_written():
    page = ('<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8"><title>Tiere</title>\n'
            '<style>p { color: red; }</style><script>var s = "<b>x</b>";</script></head>\n'
            '<body>\n  <ul class="a">\n    <li>Eins &amp; zwei</li>\n'
            '    <li data-x=\'1\'>Drei</li>\n  </ul>\n  <!-- a comment -->\n'
            '  <pre>  Kein   Text\n zum Übersetzen</pre>\n  <p translate="no">Firmenname GmbH</p>'
            '<p class="x notranslate">Auch nicht</p>\n</body></html>\n')
    doc = htmlparse.parse(page)
    # script, style, pre and translate="no" left alone
    assert doc.texts() == ["Tiere", "Eins & zwei", "Drei"]
    # each text translated as itself: the page, byte for byte
    assert doc.render([plain(t) for t in doc.texts()]) == page
    out = doc.render([plain("Animals"), plain("One & two"), plain("Three")])
    assert out == page.replace("Tiere", "Animals").replace("Eins &amp; zwei", "One &amp; two").replace(
        ">Drei<", ">Three<")


def test_entities_come_back_as_the_page_wrote_them():
    doc = htmlparse.parse("<p>&copy; Tom &amp; Jerry&#33; &lt;3</p>")
    assert doc.texts(split=False) == ["© Tom & Jerry! <3"]
    assert doc.render([plain("© Tom & Jerry! <3")]) == "<p>&copy; Tom &amp; Jerry&#33; &lt;3</p>"


def test_without_alignments_an_inline_element_wraps_its_whole_sentence():
    doc = htmlparse.parse("<p>Ein Hund läuft. Eine <b>Katze</b> schläft.</p>")
    assert doc.texts() == ["Ein Hund läuft.", "Eine Katze schläft."]
    assert doc.needs_alignment() == [False, True]
    out = doc.render([plain("A dog runs."), plain("A cat sleeps.")])
    assert out == "<p>A dog runs. <b>A cat sleeps.</b></p>"


def test_siblings_follow_the_targets_order():
    # "rote und blaue" -> "blue and red": the <i> (blaue) comes first in the translation
    doc = htmlparse.parse("<p><b>Rote</b> und <i>blaue</i> Bälle.</p>")
    t = translated("Rote und blaue Bälle.", ["▁Rote", "▁und", "▁blaue", "▁Bälle", "."],
                   [("▁Blue", 2), ("▁and", 1), ("▁red", 0), ("▁balls", 3), (".", 4)])
    assert doc.render([t]) == "<p><i>Blue</i> and <b>red</b> balls.</p>"


def test_nested_elements_stay_nested_and_cover_their_words():
    # <a> over "mit einer blauen Jacke", <b> inside it over "blauen"; punctuation stays outside
    page = '<p>Eine Frau <a href="/j">mit einer <b>blauen</b> Jacke</a>.</p>'
    doc = htmlparse.parse(page)
    t = translated("Eine Frau mit einer blauen Jacke.",
                   ["▁Eine", "▁Frau", "▁mit", "▁einer", "▁blau", "en", "▁Jacke", "."],
                   [("▁A", 0), ("▁woman", 1), ("▁in", 2), ("▁a", 3), ("▁blue", 4), ("▁jacket", 6), (".", 7)])
    out = doc.render([t])
    assert out == '<p>A woman <a href="/j">in a <b>blue</b> jacket</a>.</p>'
    assert balanced(out) and tags(out) == tags(page)


def test_a_span_no_word_attends_to_most_goes_on_the_word_that_attends_to_it_most():
    doc = htmlparse.parse("<p>Klicken Sie <a href=\"/\">hier</a>.</p>")
    pieces = ["▁Klicken", "▁Sie", "▁hier", "."]
    rows = [[0.7, 0.1, 0.2, 0.0],   # "Click": mostly "Klicken", 0.2 on "hier"
            [0.5, 0.1, 0.4, 0.0],   # "here": mostly "Klicken" too, but 0.4 on "hier": the most of any
            [0.0, 0.0, 0.0, 1.0], [0.25] * 4]
    record = {"source": pieces, "target": ["▁Click", "▁here", ".", "</s>"], "weights": rows}
    t = SimpleNamespace(text="Click here.", sentences=[{"source": "Klicken Sie hier.", "alignment": record}])
    assert doc.render([t]) == '<p>Click <a href="/">here</a>.</p>'


def test_points_go_after_what_translates_the_text_before_them():
    doc = htmlparse.parse('<p>Ein Mann <img src="m.png" alt="Mann"> fährt<!-- c --> Rad.</p>')
    assert doc.texts() == ["Ein Mann fährt Rad."]
    t = translated("Ein Mann fährt Rad.", ["▁Ein", "▁Mann", "▁fährt", "▁Rad", "."],
                   [("▁A", 0), ("▁man", 1), ("▁rides", 2), ("▁a", 3), ("▁bike", 3), (".", 4)])
    assert doc.render([t]) == '<p>A man <img src="m.png" alt="Mann"> rides<!-- c --> a bike.</p>'


def test_untouched_inline_elements_are_kept_whole_inside_the_sentence():
    doc = htmlparse.parse("<p>Führen Sie <code>make <b>test</b></code> aus.</p>")
    assert doc.texts() == ["Führen Sie aus."]
    t = translated("Führen Sie aus.", ["▁Führen", "▁Sie", "▁aus", "."], [("▁Run", 0), (".", 3)])
    assert doc.render([t]) == "<p>Run <code>make <b>test</b></code>.</p>"


@pytest.mark.parametrize("page", [
    "<p>Ein <b>fetter <i>Text</p><p>Weiter</b> danach</p>",  # misnested and unclosed
    "<ul><li>Eins<li>Zwei</ul>",                              # optional end tags left out
    "<p>Ein Hund</i> läuft.</p></div>",                        # stray end tags
    "<p>Ein <b>Hund",                                          # the page ends inside an element
    "<p>Ein Hund <b",                                          # ... and inside a tag
    "<div><p>Text <a href='x'>Link</div> Rest",
    "",
])
def test_broken_pages_are_translated_as_well_as_they_parse_and_keep_every_tag(page):
    doc = htmlparse.parse(page)
    texts = doc.texts()
    out = doc.render([plain(f"T{k} done") for k in range(len(texts))])
    assert tags(out) == tags(page)
    assert all(f"T{k} done" in htmlparse.parse(out).text() for k in range(len(texts)))


def test_an_element_left_open_runs_to_the_end_of_its_block():
    doc = htmlparse.parse("<p>Ein <b>Hund läuft.</p>")
    t = translated("Ein Hund läuft.", ["▁Ein", "▁Hund", "▁läuft", "."],
                   [("▁A", 0), ("▁dog", 1), ("▁runs", 2), (".", 3)])
    assert doc.render([t]) == "<p>A <b>dog runs.</p>"


def test_html_is_told_from_text():
    assert htmlparse.holds_html("<p>Ein Hund</p>") and htmlparse.holds_html("Ein <b>Hund</b>")
    assert not htmlparse.holds_html("3 < 4 and 5 > 2") and not htmlparse.holds_html("<Firma> GmbH")
