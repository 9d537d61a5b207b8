"""The decoding shortlist: what it lists, that search stays inside it, and bf16 decoding beside it."""

import pytest
import torch

from nmt import NMTError, shortlist
from nmt.config import DecodeConfig, ShortlistConfig
from nmt.corpus import PreparedCorpus
from nmt.fast.step import make_step
from nmt.shortlist import Shortlist, ShortlistMask
from nmt.text.tokenizer import BOS, PAD
from nmt.translate import Translator
from tests.helpers import lexicon_recall, needs_int8, nmt, texts


class Pairs:
    """A prepared corpus made by hand: just what shortlist.build reads."""

    def __init__(self, pairs):
        self.pairs = [(torch.tensor(s).numpy(), torch.tensor(t).numpy()) for s, t in pairs]

    def __len__(self):
        return len(self.pairs)

    def pair(self, i):
        return self.pairs[i]


class Vocab:
    def __init__(self, n):
        self.n, self.proto = n, bytes([n])

    def __len__(self):
        return self.n


def test_each_source_piece_lists_what_it_co_occurs_with_beyond_chance():
    # Target 4 is in every sentence; 7 comes exactly with source 5, 8 with source 6.
    # Dice(5, 4) = 2 * 2 / (2 + 4) = 0.67 and Dice(5, 7) = 2 * 2 / (2 + 2) = 1: 7 first, although 4 is as
    # frequent with 5 (raw counts would tie them and list 4 for every piece).
    pairs = [([5], [4, 7]), ([5, 9], [4, 7]), ([6], [4, 8]), ([6], [4, 8, 4])]
    listed = shortlist.build([Pairs(pairs)], Vocab(10), Vocab(10), ShortlistConfig(k=2, frequent=1))
    assert listed.lists[5].tolist() == [7, 4] and listed.lists[6].tolist() == [8, 4]
    assert listed.lists[9].tolist()[0] in (4, 7) and listed.lists[1].tolist() == [3, 3]  # unseen: EOS only
    assert listed.frequent.tolist() == [4]  # 5 occurrences
    # a batch scores the specials (0..3, so their ids keep their positions), the frequent and its lists;
    # each sentence its own list among them
    union, own = listed.select([[5], [5, 5]])
    assert union.tolist() == [0, 1, 2, 3, 4, 7] and own.all()
    union, own = listed.select([[5], [6]])
    assert union.tolist() == [0, 1, 2, 3, 4, 7, 8]
    assert own.tolist() == [[True] * 6 + [False], [True] * 5 + [False, True]]


def test_train_builds_a_shortlist_that_a_foreign_model_refuses(toy_run, tmp_path):
    path = toy_run / shortlist.FILE
    translator = Translator.load(toy_run)
    src, tgt = translator.src_tok, translator.tgt_tok
    listed = Shortlist.load(path, src, tgt)
    assert listed.lists.shape[0] == len(src)
    with pytest.raises(NMTError, match="other tokenizers"):
        Shortlist.load(path, tgt, src)
    with pytest.raises(NMTError, match="nmt shortlist"):
        Shortlist.load(tmp_path / "missing.pt", src, tgt)
    (tmp_path / "bad.pt").write_bytes(b"not a shortlist")
    with pytest.raises(NMTError, match="not a readable shortlist"):
        Shortlist.load(tmp_path / "bad.pt", src, tgt)


def test_shortlisted_search_stays_in_the_list_and_normalises_over_it(toy_run, toy):
    full = Translator.load(toy_run, device="cpu")
    short = Translator.load(toy_run, device="cpu", shortlist=True)
    # The run's own shortlist (default sizes) lists the whole toy vocabulary; a short one restricts it.
    assert len(short.shortlist.select([[5]])[0]) == len(short.tgt_tok)
    short.shortlist = shortlist.build([PreparedCorpus(toy_run / "prepared" / "train")], short.src_tok,
                                      short.tgt_tok, ShortlistConfig(k=4, frequent=6))
    lines = toy["valid_src"].read_text().splitlines()
    ids = [s for s in short.src_tok.encode(lines) if s]
    for hyps, src in zip(short.translate_ids(ids, DecodeConfig(beam=3, n_best=3)), ids, strict=True):
        allowed = set(short.shortlist.select([src])[0].tolist())
        assert all(set(h.tokens) <= allowed for h in hyps)
    # Normalised over each sentence's own list: two sentences' first steps each sum to probability 1 over
    # the pieces their sentence lists, with the other's pieces at probability 0.
    vocab, own = short.shortlist.select(ids[:2])
    assert not own.all()  # the two lists differ
    with torch.inference_mode():
        state, _ = short.encode(ids[:2], DecodeConfig(), ShortlistMask.of(own))
        log_probs, _ = short.stepper(vocab)(torch.tensor([2, 2]), state)
    assert log_probs.shape == (2, len(vocab))
    assert log_probs.exp().sum(-1).tolist() == pytest.approx([1, 1], abs=1e-5)
    assert torch.equal(torch.isfinite(log_probs), own & (vocab != PAD) & (vocab != BOS))
    assert lexicon_recall(short, toy, beam=3) > 0.35
    # Each sentence's list is its own: the output does not depend on the batch it shares.
    assert texts(short, lines, beam=3, max_sentences=1) == texts(short, lines, beam=3, max_sentences=64)
    # A list holding every piece is no restriction: the same translations as the whole vocabulary.
    everything = torch.arange(len(short.tgt_tok))
    short.shortlist = Shortlist(everything.repeat(len(short.src_tok), 1), everything, "")
    assert texts(short, lines, beam=3) == texts(full, lines, beam=3)


@needs_int8
def test_the_shortlist_composes_with_int8(toy_run, toy):
    assert lexicon_recall(Translator.load(toy_run, quantize="int8", shortlist=True), toy, beam=2) > 0.35


def test_the_shortlist_composes_with_attention(attention_run, toy):
    assert lexicon_recall(Translator.load(attention_run, shortlist=True, dtype="bf16"), toy, beam=3) > 0.7


@pytest.mark.parametrize("which", ["plain", "attention"])
def test_bf16_steps_follow_fp32_and_keep_their_state_in_fp32(toy_run, attention_run, which):
    model = Translator.load(toy_run if which == "plain" else attention_run, device="cpu").models[0]
    fp32, bf16 = make_step(model), make_step(model, "bf16")
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 0]])
    with torch.inference_mode():
        state = model.encode(ids, torch.tensor([4, 3]))
        tokens = torch.tensor([2, 2])
        for _ in range(3):
            want, want_state = fp32(tokens, state)
            got, got_state = bf16(tokens, state)
            assert got.dtype == torch.float32
            # bf16 keeps 8 bits of mantissa: log-probs agree to a few hundredths, not to fp32's precision
            finite = torch.isfinite(want)  # PAD and BOS are -inf in both
            assert torch.equal(finite, torch.isfinite(got))
            assert (got - want)[finite].abs().max() < 0.1 and not torch.equal(got, want)
            rnn = got_state.rnn if which == "attention" else got_state
            assert all(s.dtype == torch.float32 for s in rnn)
            tokens, state = want.argmax(-1), want_state


def test_bf16_decoding_translates_and_does_not_depend_on_batching(toy_run, toy):
    translator = Translator.load(toy_run, device="cpu", dtype="bf16")
    assert translator.precision == "bf16"
    assert lexicon_recall(translator, toy, beam=3) > 0.35
    lines = toy["valid_src"].read_text().splitlines()
    assert texts(translator, lines, beam=3, max_sentences=1) == texts(translator, lines, beam=3,
                                                                        max_sentences=64)


def test_dtype_is_checked_and_does_not_mix_with_int8(toy_run):
    with pytest.raises(NMTError, match="--dtype takes"):
        Translator.load(toy_run, dtype="fp16")
    with pytest.raises(NMTError, match="do not combine"):
        Translator.load(toy_run, dtype="bf16", quantize="int8")
    assert Translator.load(toy_run, dtype="auto", quantize="int8").precision == "int8"  # auto: not bf16


def test_the_shortlist_command_builds_the_list_translate_uses(toy_run, toy, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from nmt.cli import app
    run = tmp_path / "run"
    shutil.copytree(toy_run, run)  # the session's run folder stays as it is
    r = nmt("shortlist", "--model", run, "--k", 2, "--frequent", 3)  # as a user runs it
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{run / shortlist.FILE}: 2 target pieces per source piece and the 3 most " \
                               f"frequent, of {len(toy['tgt_tok'])}"
    listed = Shortlist.load(run / shortlist.FILE, toy["src_tok"], toy["tgt_tok"])
    assert listed.lists.shape == (len(toy["src_tok"]), 2) and len(listed.frequent) == 3
    # `nmt translate --shortlist` reads it: what it writes uses only the pieces the line's list allows
    # (the rest through the same command line, in this process: no second start of torch)
    cli = CliRunner()
    line = "der hund spielt im park"
    r = cli.invoke(app, ["translate", "--model", str(run), "--shortlist", "--beam", "3"], input=line + "\n")
    assert r.exit_code == 0, r.output
    allowed = set(listed.select(toy["src_tok"].encode([line]))[0].tolist())
    assert r.stdout.strip() and set(toy["tgt_tok"].encode([r.stdout.strip()])[0]) <= allowed
    # from the training texts instead of the prepared corpus, which need not be there
    shutil.rmtree(run / "prepared")
    r = cli.invoke(app, ["shortlist", "--model", str(run / "best.pt"), "--k", "1", "--src",
                         str(toy["train_src"]), "--tgt", str(toy["train_tgt"])])
    assert r.exit_code == 0, r.output
    assert Shortlist.load(run / shortlist.FILE, toy["src_tok"], toy["tgt_tok"]).lists.shape[1] == 1
    for args, message in ((["--src", str(toy["train_src"])], "give both --src and --tgt"),
                          ([], "no prepared training corpus here")):
        r = cli.invoke(app, ["shortlist", "--model", str(run), *args])
        assert r.exit_code == 1 and r.stderr.count("\n") == 1 and message in r.stderr, r.output
