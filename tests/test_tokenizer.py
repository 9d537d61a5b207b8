import io

import pytest
import sentencepiece as spm

from nmt import NMTError
from nmt.text.tokenizer import (
    BOS,
    EOS,
    PAD,
    UNK,
    Tokenizer,
    load_tokenizers,
    train_tokenizers,
)


def test_round_trip_gives_the_text_back(toy):
    tok = toy["src_tok"]
    lines = ["der hund läuft im park", "eine katze schläft auf dem gras"]
    assert tok.decode(tok.encode(lines)) == lines


def test_special_ids_are_fixed(toy):
    for tok in (toy["src_tok"], toy["tgt_tok"]):
        sp = tok.sp
        assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD, UNK, BOS, EOS)
        assert sp.id_to_piece(PAD) == "<pad>"


def test_model_with_other_special_ids_is_refused(toy):
    buffer = io.BytesIO()
    # sentencepiece's own special ids, not nmt's
    spm.SentencePieceTrainer.train(sentence_iterator=iter(toy["train_src"].read_text().splitlines()),
                                   model_writer=buffer, vocab_size=50, minloglevel=2)
    with pytest.raises(NMTError, match="special ids"):
        Tokenizer(buffer.getvalue())


def test_joint_model_is_shared(toy, tmp_path):
    summary = train_tokenizers(toy["train_src"], toy["train_tgt"], tmp_path / "j", vocab_size=70, joint=True)
    src, tgt = load_tokenizers(tmp_path / "j")
    assert src.proto == tgt.proto
    assert summary["joint"] and summary["src"]["vocab_size"] == 70
    # both languages encode without unknown pieces
    assert UNK not in src.encode(["hund"])[0] and UNK not in src.encode(["dog"])[0]


def test_unknown_share_is_reported(toy, tmp_path):
    summary = train_tokenizers(toy["train_src"], toy["train_tgt"], tmp_path / "t", vocab_size=48)
    assert summary["src"]["unk_share"] == 0.0  # full character coverage on its own training data
    tok = Tokenizer.load(tmp_path / "t" / "src.model")
    assert UNK in tok.encode(["ж"])[0]


def test_vocab_too_large_for_corpus(toy, tmp_path):
    # unigram treats the size as an upper bound; bpe needs it exactly and says what to do
    summary = train_tokenizers(toy["train_src"], toy["train_tgt"], tmp_path / "u", vocab_size=500)
    assert 30 < summary["src"]["vocab_size"] < 500
    with pytest.raises(NMTError, match="lower --vocab-size"):
        train_tokenizers(toy["train_src"], toy["train_tgt"], tmp_path / "big", vocab_size=50000,
                         model_type="bpe")


def test_missing_tokenizer_folder(tmp_path):
    with pytest.raises(NMTError, match="train-tokenizer"):
        load_tokenizers(tmp_path / "none")


def test_new_tokenizers_write_any_character_and_keep_the_reserved_pieces_whole(toy, tmp_path):
    summary = train_tokenizers(toy["train_src"], toy["train_tgt"], tmp_path / "b", vocab_size=1000)
    assert summary["byte_fallback"] and summary["reserved"]
    src, _ = load_tokenizers(tmp_path / "b")
    text = "Schreib an x@y.org // 5 € 😀 Ærø"  # characters the toy corpus never had
    ids = src.encode([text])[0]
    assert UNK not in ids and src.decode([ids]) == [text]
    assert src.reserves()
    pieces = src.pieces(src.encode(["Um ⦅n1⦆ Uhr, Hund ⦅t⦆ dog ⦅/t⦆"])[0])
    assert {"⦅n1⦆", "⦅t⦆", "⦅/t⦆"} <= set(pieces)


def test_a_toy_vocabulary_has_no_room_for_bytes_or_reserved_pieces(toy):
    assert not toy["src_tok"].reserves()  # vocabulary 48 (tokenizer.ROOMY)
    assert UNK in toy["src_tok"].encode(["😀"])[0]
