import numpy as np
import pytest

from nmt import NMTError
from nmt.corpus import PreparedCorpus, Sampling, prepare, prepared_or_cached


def test_prepare_then_load_round_trip(toy, tmp_path):
    src_tok, tgt_tok = toy["src_tok"], toy["tgt_tok"]
    stats = prepare(toy["train_src"], toy["train_tgt"], src_tok, tgt_tok, tmp_path / "p", max_len=100)
    corpus = PreparedCorpus(tmp_path / "p")
    src_lines = toy["train_src"].read_text().splitlines()
    tgt_lines = toy["train_tgt"].read_text().splitlines()
    assert stats.kept == len(corpus) == len(src_lines) == 600
    assert corpus.bins["src"].dtype == np.uint16
    for i in (0, 17, 599):
        s, t = corpus.pair(i)
        assert s.tolist() == src_tok.encode([src_lines[i]])[0]
        assert tgt_tok.decode([t.tolist()])[0] == tgt_lines[i]
    assert corpus.lengths("tgt").sum() == len(corpus.bins["tgt"])


def test_empty_and_long_pairs_are_dropped_and_counted(toy, tmp_path):
    src, tgt = tmp_path / "a.de", tmp_path / "a.en"
    src.write_text("der hund\n\nein mann\n" + "hund " * 50 + "\nkatze\n")
    tgt.write_text("the dog\nthe void\n\nlong\ncat\n")
    stats = prepare(src, tgt, toy["src_tok"], toy["tgt_tok"], tmp_path / "p", max_len=20)
    assert (stats.pairs, stats.kept, stats.dropped_empty, stats.dropped_long) == (5, 2, 2, 1)
    corpus = PreparedCorpus(tmp_path / "p")
    assert toy["tgt_tok"].decode([corpus.pair(1)[1].tolist()]) == ["cat"]
    assert corpus.meta["dropped_empty"] == 2 and corpus.meta["dropped_long"] == 1


def test_mismatched_line_counts_are_refused(toy, tmp_path):
    src, tgt = tmp_path / "a.de", tmp_path / "a.en"
    src.write_text("a\nb\n")
    tgt.write_text("a\n")
    with pytest.raises(NMTError, match="2 lines.*1"):
        prepare(src, tgt, toy["src_tok"], toy["tgt_tok"], tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_cache_is_reused_until_inputs_change(toy, tmp_path):
    args = (toy["train_src"], toy["train_tgt"], toy["src_tok"], toy["tgt_tok"], tmp_path / "c")
    _, first = prepared_or_cached(*args, max_len=100)
    _, second = prepared_or_cached(*args, max_len=100)
    _, third = prepared_or_cached(*args, max_len=5)
    assert first is not None and second is None and third is not None
    assert third.dropped_long > 0


def test_not_a_prepared_folder(tmp_path):
    with pytest.raises(NMTError, match="nmt prepare"):
        PreparedCorpus(tmp_path)


def test_sampled_segmentations_keep_the_text_are_seeded_and_cached_apart(toy, tmp_path):
    # Subword regularisation changes how sentences are cut into pieces, never the sentences: every sampled
    # sentence decodes to its line. The same seed draws the same corpus; another seed, another one; and a
    # sampled corpus is not mistaken for the best-segmentation one in the cache.
    src_tok, tgt_tok = toy["src_tok"], toy["tgt_tok"]
    args = (toy["train_src"], toy["train_tgt"], src_tok, tgt_tok)
    best, _ = prepared_or_cached(*args, tmp_path / "best", max_len=100)
    one, _ = prepared_or_cached(*args, tmp_path / "one", 100, Sampling(alpha=0.1, seed=1))
    again, _ = prepared_or_cached(*args, tmp_path / "again", 100, Sampling(alpha=0.1, seed=1))
    other, _ = prepared_or_cached(*args, tmp_path / "other", 100, Sampling(alpha=0.1, seed=2))
    src_lines = toy["train_src"].read_text().splitlines()

    def ids(corpus, side):
        return [corpus.sentence(side, i).tolist() for i in range(len(corpus))]
    assert len(one) == len(best) == len(src_lines)
    assert src_tok.decode(ids(one, "src")) == src_lines
    assert ids(one, "src") == ids(again, "src") and ids(one, "tgt") == ids(again, "tgt")
    assert ids(one, "src") != ids(other, "src")
    changed = sum(a != b for a, b in zip(ids(one, "src"), ids(best, "src"), strict=True))
    assert changed > len(src_lines) // 4
    # the cache: asking for the best segmentation in a sampled corpus's folder prepares it again
    _, stats = prepared_or_cached(*args, tmp_path / "one", max_len=100)
    assert stats is not None
