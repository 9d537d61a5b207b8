"""Sentence splitting and joining, model-free: what is a sentence, what is kept between them."""

import pytest

from nmt.text.segment import Line, cut_long, join, split, whole


def test_the_docstring_example():
    line = split("Ein Hund läuft. Zwei Katzen schlafen!", "de")
    assert line == Line(["Ein Hund läuft.", " ", "Zwei Katzen schlafen!"], [0, 2])
    assert join(line, ["A dog runs.", "Two cats sleep!"]) == "A dog runs. Two cats sleep!"


@pytest.mark.parametrize("language, text, sentences", [
    ("de", "Dr. Müller kam am 24. Mai um 3 Uhr. Er war z. B. müde.",       # titles, ordinals, abbreviations
     ["Dr. Müller kam am 24. Mai um 3 Uhr.", "Er war z. B. müde."]),
    ("en", 'He said: "Come here!" Then he left... It rained.', ['He said: "Come here!"', "Then he left...",
                                                              "It rained."]),
    ("fr", "Un homme lit. Une femme, p. ex. Marie, chante ?",
     ["Un homme lit.", "Une femme, p. ex. Marie, chante ?"]),
    ("cs", "Muž jede na kole. Žena čte knihu, např. román.",
     ["Muž jede na kole.", "Žena čte knihu, např. román."]),
    ("de", "Am 24. Mai 2019 besuchte Angela Merkel https://example.org mit 3 Hunden.",
     ["Am 24. Mai 2019 besuchte Angela Merkel https://example.org mit 3 Hunden."]),
    ("xx", "A man runs. A dog sleeps.", ["A man runs.", "A dog sleeps."]),  # unknown: the fallback's rules
])
def test_sentences_of_the_languages_multi30k_ships(language, text, sentences):
    assert split(text, language).texts() == sentences


def test_the_spacing_between_sentences_is_kept_and_the_lines_own_is_dropped():
    line = split("  Ein Hund läuft.   Eine Katze schläft.\tZwei Kinder spielen.  ", "de")
    assert line.parts[1::2] == ["   ", "\t"] and len(line.sentences) == 3
    assert join(line, ["1", "2", "3"]) == "1   2\t3"
    # spacing the splitter hands over in two segments (a sentence's trailing space, then a paragraph
    # break) is one separator
    assert split("Ein Hund läuft. \n\nEine Katze.", "de").parts == ["Ein Hund läuft.", " \n\n", "Eine Katze."]
    assert split("   ", "de") == whole("   ") == Line([], [])
    assert whole(" Ein Hund läuft. Eine Katze. ") == Line(["Ein Hund läuft. Eine Katze."], [0])


def test_a_sentence_too_long_for_the_model_is_cut_at_clauses_then_between_words():
    # at most 4 words a piece: "Ein Mann, der sehr lange redet," is 6, so the first cut is after "Ein Mann,"
    four_words = lambda s: len(s.split()) <= 4
    pieces = cut_long("Ein Mann, der sehr lange redet, eine Frau; ein Kind - und ein Hund", four_words)
    assert pieces == ["Ein Mann,", "der sehr lange redet,", "eine Frau;", "ein Kind -", "und ein Hund"]
    assert cut_long("eins zwei drei vier fünf sechs", four_words) == ["eins zwei drei vier", "fünf sechs"]
    assert cut_long("Kurz genug.", four_words) == ["Kurz genug."]
    assert cut_long("Donaudampfschifffahrtsgesellschaft", lambda s: len(s) < 10) == [
        "Donaudampfschifffahrtsgesellschaft"]  # one word: nowhere to cut
