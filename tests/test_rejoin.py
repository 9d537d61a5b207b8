"""rejoin.py's worked example: a line's n-best list from its sentences'."""

from nmt.rejoin import join_lines, rejoin
from nmt.search.scoring import Hypothesis
from nmt.text import segment


def test_the_worked_example():
    line = segment.Line(["Ein Hund läuft.", " ", "Zwei Katzen schlafen!"], [0, 2])
    first = [("A dog runs.", Hypothesis([5], -1.0, -0.5)),
             ("A dog is running.", Hypothesis([6, 7], -2.0, -1.0))]
    second = [("Two cats sleep!", Hypothesis([8], -1.0, -0.25))]
    joined = rejoin(line, [first, second])
    assert [text for text, _ in joined] == ["A dog runs. Two cats sleep!",
                                            "A dog is running. Two cats sleep!"]
    assert [h.score for _, h in joined] == [-0.375, -0.625]  # the mean of its sentences' scores
    assert joined[1][1].tokens == [6, 7, 8] and joined[1][1].log_prob == -3.0
    text = join_lines([joined, [("", Hypothesis([], 0.0, 0.0))]], limit=100)
    assert text.text == "A dog runs. Two cats sleep!\n" and text.alternatives[0].text.startswith("A dog is")
