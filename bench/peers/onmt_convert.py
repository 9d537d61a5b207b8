"""nmt checkpoint -> OpenNMT-py 3.5.1 checkpoint of the same model (run in the peers environment).

    python onmt_convert.py NMT_CHECKPOINT OUT.pt

Same weights, same vocabularies in the same id order (nmt's PAD piece is renamed to OpenNMT-py's
"<blank>"). OpenNMT-py has no reversed-source option: the caller feeds it the source pieces reversed.
An nmt attention model converts when its attention is `general` without input feeding (OpenNMT-py's
StdRNNDecoder with global attention); nmt scores h . (W m) where OpenNMT-py scores (W' h) . m, so W' = W^T.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sentencepiece as spm
import torch
from onmt import opts
from onmt.inputters.inputter import dict_to_vocabs, vocabs_to_dict
from onmt.model_builder import build_base_model
from onmt.utils.parse import ArgumentParser

PAD, BOS = 0, 2  # nmt's fixed special ids


def pieces(proto: bytes) -> list[str]:
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto)
    out = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    out[PAD] = "<blank>"
    return out


def main(src_path: str, out_path: str) -> None:
    if Path(src_path).is_dir():  # a run folder: its best.pt, as nmt reads it
        src_path = next(str(Path(src_path) / name) for name in ("best.pt", "last.pt")
                        if (Path(src_path) / name).is_file())
    ckpt = torch.load(src_path, map_location="cpu", weights_only=True)
    m, w = ckpt["config"]["model"], ckpt["model"]
    twin = m["attention"] in ("none", "general") and not m["input_feeding"]
    if m["cell"] != "lstm" or m["tie_embeddings"] or not twin:
        raise SystemExit(f"{src_path}: only LSTM models without tied embeddings or input feeding, with no or "
                         "general attention, have an OpenNMT-py twin")
    parser = ArgumentParser()
    opts.model_opts(parser)
    opts._add_train_general_opts(parser)
    opt = parser.parse_args([
        "-encoder_type", "brnn" if m["bidirectional"] else "rnn", "-decoder_type", "rnn", "-rnn_type", "LSTM",
        "-enc_layers", str(m["layers"]), "-dec_layers", str(m["layers"]), "-hidden_size", str(m["hidden"]),
        "-word_vec_size", str(m["emb"]), "-global_attention", m["attention"], "-input_feed", "0",
        "-dropout", "0"])
    ArgumentParser.update_model_opts(opt)
    ArgumentParser.validate_model_opts(opt)
    vocabs = dict_to_vocabs({"src": pieces(ckpt["src_tokenizer"]), "tgt": pieces(ckpt["tgt_tokenizer"]),
                             "data_task": "seq2seq"})
    model = build_base_model(opt, vocabs)

    state = {"encoder.embeddings.make_embedding.emb_luts.0.weight": w["encoder.embed.weight"],
             "decoder.embeddings.make_embedding.emb_luts.0.weight": w["decoder.embed.weight"]}
    for side in ("encoder", "decoder"):
        state.update({k: v for k, v in w.items() if k.startswith(f"{side}.rnn.")})
    if m["attention"] == "general":
        state["decoder.attn.linear_in.weight"] = w["decoder.attention.key.weight"].t().contiguous()
        state["decoder.attn.linear_out.weight"] = w["decoder.attention.combine.weight"]
    bias = w["output.bias"].clone()
    bias[[PAD, BOS]] = float("-inf")  # nmt never predicts PAD or BOS (its output layer's mask)
    generator = {"weight": w["output.weight"], "bias": bias}
    expected = {k for k in model.state_dict() if not k.startswith("generator.")}
    if set(state) != expected:
        raise SystemExit(f"weight names differ: missing {sorted(expected - set(state))}, "
                         f"extra {sorted(set(state) - expected)}")
    torch.save({"model": state, "generator": generator, "vocab": vocabs_to_dict(vocabs), "opt": opt,
                "optim": None}, out_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
