import json
import math

import pytest
import sacrebleu
import torch

from nmt import NMTError, checkpoint
from nmt.config import ModelConfig
from nmt.data import make_batch, pad_sources, token_batches
from nmt.model import Seq2Seq, reorder_state
from nmt.search.beam import greedy_search
from nmt.softmax import Sampler
from nmt.text.tokenizer import BOS, EOS
from nmt.training import distributed
from nmt.training import trainer as train_mod
from nmt.training.objective import Objective
from nmt.training.validate import Validator
from nmt.translate import Translator
from tests.helpers import texts, tiny_config


def test_overfits_a_copy_task_to_near_perfect_accuracy():
    """Learning works end to end: a tiny model learns to copy 5-8 token sequences through the sampled
    softmax, in well under a minute. Reading the source reversed puts the first word to write right
    next to the decoder's start: the short dependency Sutskever et al. exploited."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    vocab = 14
    data = [torch.randint(4, vocab, (int(torch.randint(5, 9, (1,), generator=g)),), generator=g).tolist()
            for _ in range(3000)]
    cfg = ModelConfig(emb=32, hidden=128, layers=1, dropout=0.0)
    model = Seq2Seq(vocab, vocab, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    objective = Objective(model, sampler=Sampler.build("unigram", torch.ones(vocab)), num_sampled=6)
    for _ in range(1600):
        idx = torch.randint(0, len(data), (64,), generator=g).tolist()
        batch = make_batch([data[i] for i in idx], [data[i] for i in idx], reverse=True)
        loss = objective(batch, g) / batch.ntokens
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    test = [torch.randint(4, vocab, (7,), generator=g).tolist() for _ in range(200)]
    with torch.no_grad():
        state = model.encode(*pad_sources(test, reverse=True))
        limits = torch.full((200,), 12)
        hyps = greedy_search(model.step, reorder_state, state, max_lens=limits, bos=BOS, eos=EOS)
    accuracy = sum(h[0].tokens == s for h, s in zip(hyps, test, strict=True)) / len(test)
    assert accuracy >= 0.95, accuracy


def _params(path):
    return checkpoint.load(path)["model"]


def test_run_writes_a_complete_run_folder(toy, tmp_path):
    cfg = tiny_config(toy, max_steps=30, valid_every=10, keep_last=2)
    summary = train_mod.run(cfg, tmp_path / "run")
    run = tmp_path / "run"
    assert summary["reason"] == "max_steps" and summary["step"] == 30
    assert sorted(p.name for p in run.glob("*.pt")) == ["best.pt", "last.pt", "step_20.pt", "step_30.pt"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    valid = [r for r in records if r["type"] == "valid"]
    assert [r["step"] for r in valid] == [10, 20, 30]
    # what a validation reports is what one finds again from last.pt (saved at step 30, validated there)
    last = valid[-1]
    assert last["ppl"] == pytest.approx(math.exp(last["loss"]))
    sources, refs = toy["valid_src"].read_text().splitlines(), toy["valid_tgt"].read_text().splitlines()
    hyps = texts(Translator.load(run / "last.pt", device="cpu"), sources, beam=1)
    assert last["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert "validation step 30" in (run / "train.log").read_text()
    ckpt = checkpoint.load(run / "last.pt")
    assert ckpt["progress"]["step"] == 30 and ckpt["src_tokenizer"] == toy["src_tok"].proto
    assert (run / "config.yaml").is_file()


ATTENTION = {"attention": "additive", "input_feeding": True, "bidirectional": True, "reverse_source": False}


SAMPLED = {"data.sampling_variants": 2, "data.sampling_alpha": 0.1}  # subword regularisation


def _with(cfg, **settings):
    for key, value in settings.items():
        section, name = key.split(".") if "." in key else ("model", key)
        setattr(getattr(cfg, section), name, value)
    return cfg


@pytest.mark.parametrize("model", [{}, ATTENTION, SAMPLED], ids=["plain", "attention", "sampled"])
def test_interrupted_and_resumed_run_ends_with_the_same_parameters(toy, tmp_path, model):
    # bit-exact on the CPU; CUDA's RNN and embedding backward passes add in a varying order, so two
    # uninterrupted GPU runs already differ in the last bits. 40 steps span several epochs, so the sampled
    # run switches segmentations on both sides of the interruption.
    full = _with(tiny_config(toy, max_steps=40, valid_every=10, seed=3), **model)
    train_mod.run(full, tmp_path / "a", device="cpu")
    part = _with(tiny_config(toy, max_steps=17, valid_every=10, seed=3), **model)
    assert train_mod.run(part, tmp_path / "b", device="cpu")["step"] == 17
    mid = _params(tmp_path / "b" / "last.pt")
    summary = train_mod.run(_with(tiny_config(toy, max_steps=40), **model), tmp_path / "b", resume=True,
                            changed={"train.max_steps"}, device="cpu")
    assert summary["step"] == 40
    a, b = _params(tmp_path / "a" / "last.pt"), _params(tmp_path / "b" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the resumed part really trained: the parameters moved from the interrupted point
    assert not all(torch.equal(a[k], mid[k]) for k in a)


def test_subword_regularisation_reads_the_sampled_segmentations_in_turn(toy, tmp_path, monkeypatch):
    # sampling_variants 2: epochs 1, 2, 3 read sampled-0, sampled-1, sampled-0 (epoch e: variant e % 2)
    read = []
    original = train_mod.Trainer._read

    def recording(self, epoch):
        read.append(" ".join(corpus.dir.name for corpus in epoch.corpora))
        original(self, epoch)
    monkeypatch.setattr(train_mod.Trainer, "_read", recording)
    cfg = _with(tiny_config(toy, max_epochs=3, valid_every=0), **SAMPLED)
    train_mod.run(cfg, tmp_path / "r")
    assert read == ["train.sampled-0", "train.sampled-1", "train.sampled-0"]


def test_resume_with_a_new_learning_rate(toy, tmp_path):
    train_mod.run(tiny_config(toy, max_steps=5, valid_every=5), tmp_path / "r")
    before = _params(tmp_path / "r" / "last.pt")
    train_mod.run(tiny_config(toy, max_steps=10, lr=0.0), tmp_path / "r", resume=True,
                  changed={"train.max_steps", "train.lr"})
    ckpt = checkpoint.load(tmp_path / "r" / "last.pt")
    assert ckpt["progress"]["step"] == 10 and ckpt["optimizer"]["param_groups"][0]["lr"] == 0.0
    assert all(torch.equal(before[k], ckpt["model"][k]) for k in before)  # lr 0: nothing moved


def test_resume_refuses_model_changes_and_missing_runs(toy, tmp_path):
    train_mod.run(tiny_config(toy, max_steps=3, valid_every=3), tmp_path / "r")
    with pytest.raises(NMTError, match="model.hidden cannot change on resume"):
        train_mod.run(tiny_config(toy), tmp_path / "r", resume=True, changed={"model.hidden"})
    with pytest.raises(NMTError, match="nothing to resume"):
        train_mod.run(tiny_config(toy), tmp_path / "none", resume=True)
    with pytest.raises(NMTError, match="--resume"):
        train_mod.run(tiny_config(toy, max_steps=3), tmp_path / "r")


def test_mismatched_training_files_are_refused_before_training(toy, tmp_path):
    bad = tmp_path / "bad.en"
    bad.write_text("one line\n")
    cfg = tiny_config(toy)
    cfg.data.train_tgt = str(bad)
    with pytest.raises(NMTError, match=r"train.de has 600 lines, .*bad.en has 1"):
        train_mod.run(cfg, tmp_path / "r")
    assert not list((tmp_path / "r").glob("*.pt"))  # nothing trained, nothing saved


def test_nan_losses_skip_updates_then_stop_with_the_last_good_checkpoint(toy, tmp_path, monkeypatch):
    real = Objective.forward
    calls = {"n": 0}

    def flaky(self, batch, *args):
        calls["n"] += 1
        loss = real(self, batch, *args)
        return loss * float("nan") if calls["n"] > 4 else loss

    monkeypatch.setattr(Objective, "forward", flaky)
    with pytest.raises(NMTError, match="NaN/inf"):
        train_mod.run(tiny_config(toy, max_steps=50, max_bad_steps=3), tmp_path / "r")
    ckpt = checkpoint.load(tmp_path / "r" / "last.pt")
    assert ckpt["progress"]["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_sigint_saves_a_checkpoint_and_stops_cleanly(toy, tmp_path, monkeypatch):
    import os
    import signal
    real = Objective.forward
    calls = {"n": 0}

    def interrupting(self, *args):
        calls["n"] += 1
        if calls["n"] == 6:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args)

    monkeypatch.setattr(Objective, "forward", interrupting)
    summary = train_mod.run(tiny_config(toy, max_steps=100), tmp_path / "r")
    assert summary["reason"] == "interrupted" and summary["step"] == 6
    assert checkpoint.load(tmp_path / "r" / "last.pt")["progress"]["step"] == 6


def test_early_stopping_when_the_metric_stalls(toy, tmp_path):
    summary = train_mod.run(tiny_config(toy, max_steps=100, valid_every=4, lr=0.0, patience=2, metric="loss"),
                            tmp_path / "r")
    assert summary["reason"] == "early_stopping" and summary["step"] == 12


@pytest.mark.parametrize("overrides", [{"loss": "full", "schedule": "constant"},
                                       {"sampler": "log_uniform", "label_smoothing": 0.1}])
def test_loss_variants_train(toy, tmp_path, overrides):
    cfg = tiny_config(toy, max_steps=40, valid_every=20, lr=0.01, **overrides)
    summary = train_mod.run(cfg, tmp_path / "r")
    assert summary["step"] == 40
    log = (tmp_path / "r" / "train.log").read_text()
    assert ("loss full" in log) == (overrides.get("loss") == "full") and ("log_uniform" in log) == (
        overrides.get("sampler") == "log_uniform")  # the variant asked for is the one that trained
    first, second = (r["loss"] for r in _records(tmp_path / "r", "valid"))
    assert second < first < math.log(len(toy["tgt_tok"]))  # learning: below uniform, and falling


def test_bf16_autocast_trains_like_fp32(toy, tmp_path):
    losses = {}
    for dtype in ("fp32", "bf16"):
        cfg = tiny_config(toy, max_steps=150, valid_every=150, lr=0.01, loss="full", dtype=dtype)
        train_mod.run(cfg, tmp_path / dtype)
        valid = [json.loads(line) for line in (tmp_path / dtype / "metrics.jsonl").read_text().splitlines()
                 if '"valid"' in line]
        losses[dtype] = valid[-1]["loss"]
        assert ("bf16 autocast" in (tmp_path / dtype / "train.log").read_text()) == (dtype == "bf16")
    # after 150 steps the toy model is far from the uniform 3.9 nats: both learned, to about the same point
    assert losses["fp32"] < 3.0 and abs(losses["bf16"] - losses["fp32"]) < 0.15 * losses["fp32"], losses


def test_auto_dtype_follows_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": False, "amx_bf16": False})
    assert not distributed.native_bf16(cpu)
    assert not distributed.use_bf16("auto", cpu) and distributed.use_bf16("bf16", cpu)
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True})
    assert distributed.native_bf16(cpu)
    assert distributed.use_bf16("auto", cpu) and not distributed.use_bf16("fp32", cpu)


def _records(run, kind):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["type"] == kind]


def test_plateau_schedule_decays_the_lr_when_the_metric_stalls(toy, tmp_path, monkeypatch):
    # Validation losses 3.0, 2.0 (better), 2.0 (stalled), 2.5 (worse); lr_patience 0 and lr_decay 0.5: the lr
    # stays 0.01 while the loss improves, then halves at each stalled validation.
    losses = iter([3.0, 2.0, 2.0, 2.5])

    def validate(self, model, device):
        loss = next(losses)
        return {"loss": loss, "ppl": math.exp(loss), "bleu": 0.0}

    monkeypatch.setattr(Validator, "__call__", validate)
    cfg = tiny_config(toy, max_steps=8, valid_every=2, lr=0.01, metric="loss", schedule="plateau",
                      lr_decay=0.5, lr_patience=0, patience=0)
    train_mod.run(cfg, tmp_path / "r")
    assert [r["lr"] for r in _records(tmp_path / "r", "valid")] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    [group] = checkpoint.load(tmp_path / "r" / "last.pt")["optimizer"]["param_groups"]
    assert group["lr"] == pytest.approx(0.0025)


def test_warmup_climbs_linearly_to_the_lr_and_a_resumed_run_climbs_on(toy, tmp_path):
    # warmup_steps 4 and lr 0.01: updates 1..4 run at 0.01 * 1/4, 2/4, 3/4, 4/4, then the lr stays (constant
    # schedule). A run stopped after update 2 and resumed goes on with 3/4, as one run would.
    def config(steps):
        return tiny_config(toy, max_steps=steps, lr=0.01, warmup_steps=4, schedule="constant", log_every=1,
                           valid_every=0)
    train_mod.run(config(6), tmp_path / "one")
    whole = [r["lr"] for r in _records(tmp_path / "one", "train")]
    assert whole == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    train_mod.run(config(2), tmp_path / "two")
    train_mod.run(config(6), tmp_path / "two", resume=True, changed={"train.max_steps"})
    assert [r["lr"] for r in _records(tmp_path / "two", "train")][-4:] == pytest.approx(whole[2:])


def test_stops_after_max_epochs_with_a_validation_at_each_epoch_end(toy, tmp_path):
    cfg = tiny_config(toy, max_epochs=2, valid_every=0)
    summary = train_mod.run(cfg, tmp_path / "r")
    corpus = tmp_path / "r" / "prepared" / "train"
    from nmt.corpus import PreparedCorpus
    lens = PreparedCorpus(corpus).lengths("src"), PreparedCorpus(corpus).lengths("tgt")
    per_epoch = [len(token_batches(*lens, cfg.train.max_tokens, cfg.train.seed, epoch)) for epoch in (0, 1)]
    assert summary["reason"] == "max_epochs" and summary["epoch"] == 2 and summary["step"] == sum(per_epoch)
    assert [(r["epoch"], r["step"]) for r in _records(tmp_path / "r", "valid")] == [(1, per_epoch[0]),
                                                                                    (2, sum(per_epoch))]


def test_stops_when_the_time_budget_is_spent(toy, tmp_path):
    # a budget shorter than any update: the run stops after its first update, and saves it
    summary = train_mod.run(tiny_config(toy, max_minutes=1e-6, max_steps=1000), tmp_path / "r")
    assert summary["reason"] == "max_minutes" and summary["step"] == 1
    assert checkpoint.load(tmp_path / "r" / "last.pt")["progress"]["step"] == 1


def test_trains_tokenizers_into_the_run_folder_when_none_are_given(toy, tmp_path):
    cfg = tiny_config(toy, max_steps=2, valid_every=2)
    cfg.data.tokenizers, cfg.data.vocab_size = "", 40
    train_mod.run(cfg, tmp_path / "r")
    folder = tmp_path / "r" / "tokenizers"
    ckpt = checkpoint.load(tmp_path / "r" / "last.pt")
    assert ckpt["src_tokenizer"] == (folder / "src.model").read_bytes() != toy["src_tok"].proto
    assert ckpt["tgt_tokenizer"] == (folder / "tgt.model").read_bytes()
    assert "training tokenizers (vocab 40" in (tmp_path / "r" / "train.log").read_text()


def test_a_run_stopped_by_a_limit_validates_its_last_steps(toy, tmp_path):
    summary = train_mod.run(tiny_config(toy, max_steps=25, valid_every=10), tmp_path / "r")
    assert summary["reason"] == "max_steps"
    assert [r["step"] for r in _records(tmp_path / "r", "valid")] == [10, 20, 25]
    assert (tmp_path / "r" / "step_25.pt").is_file()


def test_the_time_budget_keeps_room_for_the_last_validation(toy, tmp_path, monkeypatch):
    # A clock that advances 1 s per update and 5 s per validation; budget 30 s, validation every 10.
    # Updates 1-10 end at 10 s, the validation at 15 s; update 20 ends at 25 s: 25 + 5 >= 30, so the run
    # stops there, and step 20's validation ends at 30 s: the whole run inside its budget.
    clock = {"now": 1000.0}
    monkeypatch.setattr(train_mod.time, "time", lambda: clock["now"])
    real_accumulate, real_validate = train_mod.Trainer._accumulate, Validator.__call__

    def accumulate(self, chunk):
        clock["now"] += 1
        return real_accumulate(self, chunk)

    def validate(self, model, device):
        clock["now"] += 5
        return real_validate(self, model, device)

    monkeypatch.setattr(train_mod.Trainer, "_accumulate", accumulate)
    monkeypatch.setattr(Validator, "__call__", validate)
    summary = train_mod.run(tiny_config(toy, max_minutes=0.5, valid_every=10, max_steps=1000), tmp_path / "r")
    assert summary["reason"] == "max_minutes" and summary["step"] == 20
    assert summary["minutes"] * 60 == pytest.approx(30)
    assert [r["step"] for r in _records(tmp_path / "r", "valid")] == [10, 20]


def test_validation_reports_the_models_own_greedy_bleu_and_loss(toy, toy_run):
    # toy_run translates the lexicon: a BLEU well above 0 (7.3 here), so a wrong one shows
    model, src_tok, tgt_tok, cfg = checkpoint.build(checkpoint.load(toy_run / "best.pt"))
    result = Validator(str(toy["valid_src"]), str(toy["valid_tgt"]), src_tok, tgt_tok, cfg)(
        model, torch.device("cpu"))
    sources, refs = toy["valid_src"].read_text().splitlines(), toy["valid_tgt"].read_text().splitlines()
    hyps = texts(Translator.load(toy_run / "best.pt", device="cpu"), sources, beam=1)
    assert result["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score) and result["bleu"] > 5
    # the loss: the mean -log p of every target token (EOS included), here one sentence at a time
    nll = tokens = 0.0
    with torch.no_grad():
        for s, t in zip(src_tok.encode(sources), tgt_tok.encode(refs), strict=True):
            batch = make_batch([s], [t], cfg.model.reverse_source)
            log_p = model.output.log_probs(model(batch.src, batch.src_lens, batch.tgt_in))  # (1, len, vocab)
            nll -= float(log_p.gather(2, batch.tgt_out[..., None]).sum())
            tokens += batch.ntokens
    assert result["loss"] == pytest.approx(nll / tokens, rel=1e-4)
    assert result["ppl"] == pytest.approx(math.exp(result["loss"]))


def test_tensorboard_events_hold_what_metrics_jsonl_holds(toy, tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                      reason="make install brings tensorboard (the test extra)")
    cfg = tiny_config(toy, max_steps=20, valid_every=10, log_every=5, tensorboard=True)
    train_mod.run(cfg, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    events = accumulator.EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {f"train/loss_{cfg.train.loss}", "train/ppl", "train/lr", "train/tokens_per_s", "valid/loss",
            "valid/ppl", "valid/bleu"} <= tags
    bleu = [(e.step, e.value) for e in events.Scalars("valid/bleu")]
    assert bleu == [(r["step"], pytest.approx(r["bleu"], rel=1e-6)) for r in records if r["type"] == "valid"]
    losses = [e.step for e in events.Scalars(f"train/loss_{cfg.train.loss}")]
    assert losses == [r["step"] for r in records if r["type"] == "train"]


def test_tensorboard_missing_is_one_clear_error(toy, tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(NMTError, match=r"pip install 'nmt\[tensorboard\]'"):
        train_mod.run(tiny_config(toy, max_steps=2, tensorboard=True), tmp_path / "run")
