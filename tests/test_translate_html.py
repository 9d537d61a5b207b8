"""HTML through a trained model: the Python API, `nmt translate --format html` and every tag kept
(markup.py; test_markup.py places inline elements on hand-made alignments)."""

import pytest

from nmt import NMTError
from nmt.translate import Translator

from .helpers import nmt
from .test_markup import balanced, tags

PAGES = [
    '<p>der <b>hund</b> läuft im <a href="/park?x=1&amp;y=2">park</a></p>',
    "<ul>\n  <li>die katze schläft</li>\n  <li>ein <i>kind</i> spielt mit dem ball</li>\n</ul>\n",
    "<table><tr><th>der mann</th><td>sitzt im <em>gras</em></td></tr></table>",
    "<div><h2>der hund</h2><p>die frau <b>läuft <i>schnell</i></b> &amp; der mann sitzt<!-- x --></p></div>",
    '<p translate="no">der hund</p><pre>die katze</pre><p>ein <code>kind</code> spielt</p>',
    "<p>der <b>hund läuft<p>die katze</i> schläft",  # broken: left open, a stray end tag
]


@pytest.fixture(scope="module")
def attending(attention_run):
    return Translator.load(attention_run, device="cpu")


def test_inline_elements_land_on_the_words_they_marked(attending):
    # the toy model translates word by word, and its attention lines word k up with word k
    out = attending.translate(PAGES[0], format="html", beam=3).text
    assert out == '<p>the <b>dog</b> runs in the <a href="/park?x=1&amp;y=2">park</a></p>'


def test_every_tag_is_kept_and_the_page_stays_well_formed(attending):
    for page, translation in zip(PAGES, attending.translate(PAGES, format="html", beam=3), strict=True):
        assert tags(translation.text) == tags(page), page
        assert balanced(translation.text) or not balanced(page), translation.text
    untouched = attending.translate(PAGES[4], format="html").text
    assert '<p translate="no">der hund</p><pre>die katze</pre>' in untouched
    assert "<code>kind</code>" in untouched


def test_html_output_does_not_depend_on_batching(attending):
    together = [t.text for t in attending.translate(PAGES, format="html", beam=3, max_sentences=64)]
    assert together == [attending.translate(p, format="html", beam=3, max_sentences=1).text for p in PAGES]


def test_a_model_without_attention_wraps_whole_sentences(toy_run):
    translator = Translator.load(toy_run)
    plain = translator.translate("der hund läuft im park").text
    assert translator.translate("<p>der <b>hund</b> läuft im park</p>", format="html").text == \
        f"<p><b>{plain}</b></p>"


def test_html_with_attention_and_alternatives(attending):
    best = attending.translate("<p>der <b>hund</b> läuft</p>", format="html", beam=4, n_best=3,
                               attention=True)
    assert [s["source"] for s in best.sentences] == ["der hund läuft"]
    assert len(best.alternatives) == 2 and all(tags(a.text) == tags("<p><b></b></p>")
                                               for a in best.alternatives)
    with pytest.raises(NMTError, match="format takes text or html"):
        attending.translate("x", format="xml")


def test_the_command_line_translates_a_page(attention_run, attending, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body>\n" + "\n".join(PAGES[:4]) + "\n</body></html>\n", encoding="utf-8")
    done = nmt("translate", "--model", str(attention_run), "--format", "html", "--beam", "3",
               "--input", str(page))
    assert done.returncode == 0, done.stderr
    assert done.stdout == attending.translate(page.read_text(encoding="utf-8"), format="html", beam=3).text
    refused = nmt("translate", "--model", str(attention_run), "--format", "html", "--n-best", "2",
                  "--input", str(page))
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1 and "--format text" in refused.stderr
