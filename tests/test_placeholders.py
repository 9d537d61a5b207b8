"""Placeholders for kept spans, term annotations and the word links they are learnt from (model-free):
the worked examples of placeholders.py, annotate.py, lexicon.py and augment.py, replayed."""

import random
import re

import pytest

from nmt.augment import Augmentation, rewrite, texts
from nmt.corpora import CorpusFiles
from nmt.lexicon import Lexicon
from nmt.text.annotate import annotate, plain
from nmt.text.glossary import Glossary
from nmt.text.placeholders import mask, unmask
from nmt.text.reserved import SLOTS


def test_placeholders_round_trip_the_docstring_example():
    masked = mask("Um 8:15 Uhr kommen 2 Züge, siehe https://example.org.")
    assert masked.text == "Um ⦅n1⦆ Uhr kommen ⦅n2⦆ Züge, siehe ⦅u1⦆."
    assert unmask("⦅n2⦆ trains arrive at ⦅n1⦆, see ⦅u1⦆.", masked) == \
        "2 trains arrive at 8:15, see https://example.org."
    assert unmask("⦅n2⦆ trains at⦅n1⦆, see ⦅u1⦆.", masked) == "2 trains at 8:15, see https://example.org."


@pytest.mark.parametrize("translation", [
    "Two trains arrive at ⦅n1⦆.",                          # dropped
    "⦅n2⦆ trains arrive at ⦅n1⦆ and ⦅n1⦆, see ⦅u1⦆.",       # repeated
    "⦅n2⦆ trains arrive at ⦅n1⦆, see ⦅u1⦆ or ⦅e1⦆.",        # invented
])
def test_a_dropped_repeated_or_invented_placeholder_is_not_written_back(translation):
    assert unmask(translation, mask("Um 8:15 Uhr kommen 2 Züge, siehe https://example.org.")) is None


def test_the_same_span_twice_is_one_placeholder_twice_and_kinds_count_apart():
    masked = mask("2 und 2 sind 4; mail an info@example.org oder siehe www.example.de")
    assert masked.text == "⦅n1⦆ und ⦅n1⦆ sind ⦅n2⦆; mail an ⦅e1⦆ oder siehe ⦅u1⦆"
    assert unmask("⦅n1⦆ and ⦅n1⦆ are ⦅n2⦆; mail ⦅e1⦆ or see ⦅u1⦆", masked) == \
        "2 and 2 are 4; mail info@example.org or see www.example.de"
    assert unmask("⦅n1⦆ and ⦅n2⦆; mail ⦅e1⦆ or see ⦅u1⦆", masked) is None  # one 2 dropped


def test_an_international_telephone_number_is_one_span():
    assert mask("Ruf an: +49 170 1234567 oder +33 1 23 45 67 89!").text == "Ruf an: ⦅n1⦆ oder ⦅n2⦆!"
    assert mask("Es gilt 3 + 4 = 7.").text == "Es gilt ⦅n1⦆ + ⦅n2⦆ = ⦅n3⦆."
    assert unmask("It's  ⦅n1⦆ or ⦅n2⦆.", mask("+49 170 1234567 oder 5")) == "It's +49 170 1234567 or 5."


def test_forms_that_differ_between_languages_are_written_as_the_source_wrote_them():
    masked = mask("Es kostet 1.000,5 Euro am 12. Mai.")
    assert masked.text == "Es kostet ⦅n1⦆ Euro am ⦅n2⦆. Mai."  # "Mai" is the model's to translate
    assert unmask("It costs ⦅n1⦆ euros on May ⦅n2⦆.", masked) == "It costs 1.000,5 euros on May 12."


def test_spans_beyond_the_slots_stay_as_text_and_a_sentence_with_placeholder_text_is_left_alone():
    many = " ".join(str(n) for n in range(10, 10 + SLOTS + 2))
    masked = mask(many)
    assert masked.left == [str(10 + SLOTS), str(11 + SLOTS)] and len(masked.spans) == SLOTS
    refused = mask("Die Zeichen ⦅n1⦆ um 8 Uhr.")
    assert refused.spans == {} and refused.text == "Die Zeichen ⦅n1⦆ um 8 Uhr." and "8" in refused.left


def test_annotations_are_added_after_their_terms_and_removed():
    glossary = Glossary([("Hunde", "puppies"), ("Park", "garden")])
    sentence = "Zwei Hunde laufen im Park."
    assert glossary.matches(sentence) == [(5, 10, "puppies"), (21, 25, "garden")]
    annotated = annotate(sentence, glossary.matches(sentence))
    assert annotated == "Zwei Hunde ⦅t⦆ puppies ⦅/t⦆ laufen im Park ⦅t⦆ garden ⦅/t⦆."
    assert plain(annotated) == sentence


PAIRS = [("der Hund", "the dog"), ("ein Hund", "a dog"), ("die Katze", "the cat"), ("eine Katze", "a cat"),
         ("Hund und Katze", "dog and cat")]


def test_the_lexicon_docstring_example():
    lexicon = Lexicon.build(PAIRS, min_pairs=1)
    assert lexicon.links["hund"] == ("dog", "and", "the")
    assert lexicon.aligned("Der Hund schläft", "The dog sleeps") == [(0, 3, 0, 3), (4, 8, 4, 7)]
    assert lexicon.aligned("Um ⦅n1⦆ Uhr", "At ⦅n1⦆") == []  # a placeholder is no word


def test_training_pairs_get_placeholders_on_both_sides_and_annotations_from_their_own_target():
    lexicon = Lexicon({"hund": ("dog",)})
    spans_only = Augmentation(placeholders=True, span_share=0, term_share=0, seed=1)
    pair = ("Um 8:15 Uhr bellt der Hund.", "At 8:15 the dog barks.")
    assert rewrite(*pair, lexicon, spans_only, random.Random(1)) == \
        ("Um ⦅n1⦆ Uhr bellt der Hund.", "At ⦅n1⦆ the dog barks.")
    both = Augmentation(placeholders=True, span_share=0, term_share=1, seed=1)
    assert rewrite(*pair, lexicon, both, random.Random(1)) == \
        ("Um ⦅n1⦆ Uhr bellt der Hund ⦅t⦆ dog ⦅/t⦆.", "At ⦅n1⦆ the dog barks.")
    # a span on one side only (the forms differ) stays text
    assert rewrite("Um 14:30 Uhr.", "At 2:30 pm.", lexicon, spans_only, random.Random(1)) == \
        ("Um 14:30 Uhr.", "At 2:30 pm.")


def test_span_augmentation_replaces_a_linked_word_pair_with_one_made_up_span():
    lexicon = Lexicon({"hund": ("dog",)})
    always = Augmentation(placeholders=True, span_share=1, term_share=0, seed=1)
    src, tgt = rewrite("Der Hund bellt.", "The dog barks.", lexicon, always, random.Random(3))
    kind = src.split()[1]
    assert src == f"Der {kind} bellt." and tgt == f"The {kind} barks." and kind[1] in "nue"


def test_the_rewritten_texts_are_written_once_and_reused(tmp_path):
    src, tgt = tmp_path / "train.de", tmp_path / "train.en"
    src.write_text("Um 8:15 Uhr bellt der Hund.\nDer Hund.\n" * 3, encoding="utf-8")
    tgt.write_text("At 8:15 the dog barks.\nThe dog.\n" * 3, encoding="utf-8")
    corpora = [CorpusFiles("train", str(src), str(tgt))]
    aug = Augmentation(placeholders=True, span_share=0, term_share=0, seed=1)
    out = texts(corpora, tmp_path / "prepared", aug)
    written = (tmp_path / "prepared" / "train.text" / "src").read_text(encoding="utf-8").splitlines()
    assert out[0].src.endswith("train.text/src")
    assert written[:2] == ["Um ⦅n1⦆ Uhr bellt der Hund.", "Der Hund."]
    stamp = (tmp_path / "prepared" / "train.text" / "src").stat().st_mtime_ns
    texts(corpora, tmp_path / "prepared", aug)
    assert (tmp_path / "prepared" / "train.text" / "src").stat().st_mtime_ns == stamp
    assert texts(corpora, tmp_path / "x", Augmentation(False, 0.1, 0, 1)) == corpora  # nothing to rewrite


def test_a_swapped_annotation_names_a_word_the_target_then_holds():
    lexicon = Lexicon({"hund": ("dog",), "katze": ("cat",), "haus": ("house",)})
    terms = Augmentation(placeholders=False, span_share=0, term_share=1, seed=1, term_swap=0.3)
    seen = set()
    for seed in range(40):
        src, tgt = rewrite("Der Hund sieht die Katze.", "The dog sees the cat.", lexicon, terms,
                           random.Random(seed))
        for term in re.findall(r"⦅t⦆ (\w+) ⦅/t⦆", src):
            assert re.search(rf"\b{term}\b", tgt), (src, tgt)
            seen.add(term)
        assert tgt.startswith("The ") and tgt.endswith(".") and len(tgt.split()) == 5
    assert seen > {"dog", "cat"}  # swaps happened: a word the pair did not hold was named, and written


def test_swaps_in_a_target_of_another_word_order_land_on_their_words():
    lexicon = Lexicon({"hund": ("dog",), "katze": ("cat",), "haus": ("house",)})
    always = Augmentation(placeholders=False, span_share=0, term_share=1, seed=1, term_swap=1)
    for seed in range(20):
        src, tgt = rewrite("Der Hund sieht die Katze.", "The cat is seen by the dog.", lexicon, always,
                           random.Random(seed))
        terms = re.findall(r"(Hund|Katze) ⦅t⦆ (\w+) ⦅/t⦆", src)
        order = re.fullmatch(r"The (\w+) is seen by the (\w+)\.", tgt).groups()
        words = dict(zip(("Katze", "Hund"), order, strict=True))
        assert terms and all(words[source] == term for source, term in terms), (src, tgt)
