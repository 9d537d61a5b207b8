"""Checkpoint(s) -> Translator; texts in, exactly one translation per text out, in input order.

The Python API of nmt, used by `nmt translate`, `nmt evaluate` and `nmt serve` alike:

    >>> from nmt import Translator
    >>> translator = Translator.load("runs/small")          # a run folder or a checkpoint
    >>> [t.text for t in translator.translate(["Ein Hund läuft.", ""], beam=5)]
    ['A dog is running.', '']
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from nmt import NMTError, alignment, checkpoint, constraints, markup
from nmt.config import FORMATS, Config, DecodeConfig, RuntimeConfig, languages_of
from nmt.data import pad_sources
from nmt.ensemble import Ensemble, EnsembleState
from nmt.fast.allocator import keep_freed_memory
from nmt.fast.shortlist import FILE as SHORTLIST_FILE
from nmt.fast.shortlist import Shortlist, ShortlistMask
from nmt.fast.step import make_step
from nmt.glossary import Glossary
from nmt.hardware import native_bf16
from nmt.lines import Counts, Translation, join_lines, length_batches, rejoin, sentences
from nmt.model import Seq2Seq
from nmt.repeats import NoRepeat
from nmt.search import Hypothesis, beam_search, greedy_search
from nmt.spans import spans
from nmt.tokenizer import BOS, EOS, UNK, WORD_START, Tokenizer

log = logging.getLogger(__name__)
CHUNK_LINES = 4096  # lines read, sorted and decoded together; bounds memory on endless pipes
DECODE_OPTIONS = [f.name for f in dataclasses.fields(DecodeConfig)]
RUNTIME_OPTIONS = [f.name for f in dataclasses.fields(RuntimeConfig)]


class Translator:
    """One model, or an ensemble whose log-probabilities are averaged at every step.

    Each model runs through a Step of the fast floor (fast/step.py) in `precision`: fp32, bf16 (bf16
    matrix products; gates, cell states and the softmax stay fp32) or int8 (CPU). The models handed in
    are not changed: bf16 and int8 decode copies. shortlist: score each sentence over the target pieces
    its source pieces list (fast/shortlist.py) instead of the whole vocabulary.
    """

    def __init__(self, models: list[Seq2Seq], src_tok: Tokenizer, tgt_tok: Tokenizer,
                 device: torch.device | str = "cpu", config: Config | None = None, *,
                 precision: str = "fp32", shortlist: Shortlist | None = None):
        if any(m.training for m in models):
            raise NMTError("a Translator decodes models in eval mode; call model.eval() first")
        self.config = config  # the first model's training config (languages, sizes)
        self.precision, self.shortlist = precision, shortlist
        self.steps = [make_step(m, precision) for m in models]
        self.models = [step.model for step in self.steps]  # what decodes: the models, or their copies
        self.src_tok, self.tgt_tok = src_tok, tgt_tok
        self.device = torch.device(device)
        self.ensemble = Ensemble(self.steps, self.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.reverse = models[0].cfg.reverse_source
        self.max_src_len = models[0].cfg.max_len
        self.counts = Counts()  # inputs too long for the model: sentences cut, words truncated
        self.languages = languages_of(config) if config is not None else None  # (source, target) codes

    @classmethod
    def load(cls, paths: str | Path | list[str | Path], runtime: RuntimeConfig | None = None,
             **options) -> Translator:
        """A run folder (its best.pt) or checkpoint; several make an ensemble. runtime, or its fields as
        keywords (device, dtype, quantize, shortlist, threads; config.RuntimeConfig): how to run them.
        device: default CUDA when present, else the CPU. quantize="int8": int8 weights for CPU decoding
        (fast/quantize.py). dtype: fp32, bf16, or auto (bf16 where the hardware multiplies in it).
        shortlist: use the shortlist.bin of the first model's run folder (fast/shortlist.py)."""
        unknown = sorted(set(options) - set(RUNTIME_OPTIONS))
        if unknown:
            raise NMTError(f"unknown option {', '.join(unknown)}; valid: {', '.join(RUNTIME_OPTIONS)}")
        run = dataclasses.replace(runtime or RuntimeConfig(), **options)
        if run.threads:
            torch.set_num_threads(run.threads)
        device = run.device or ("cuda" if torch.cuda.is_available() and not run.quantize else "cpu")
        paths = [paths] if isinstance(paths, (str, Path)) else paths
        if not paths:
            raise NMTError("give at least one model")
        models, first = [], None
        for path in paths:
            model, src_tok, tgt_tok, cfg = checkpoint.build(checkpoint.load(path))
            if first is None:
                first = (src_tok, tgt_tok, cfg)
            elif src_tok.proto != first[0].proto or tgt_tok.proto != first[1].proto:
                raise NMTError(f"{path}: its tokenizers differ from the first model's; "
                               "an ensemble needs the same ones")
            elif cfg.model.reverse_source != first[2].model.reverse_source:
                raise NMTError(f"{path}: reads the source in another direction than the first model; "
                               "cannot ensemble")
            models.append(model if run.quantize else model.to(device))
        precision = run.quantize or ("bf16" if run.dtype == "bf16" or (
            run.dtype == "auto" and native_bf16(torch.device(device))) else "fp32")
        listed = None
        if run.shortlist:
            folder = Path(paths[0]) if Path(paths[0]).is_dir() else Path(paths[0]).parent
            listed = Shortlist.load(folder / SHORTLIST_FILE, first[0], first[1])
        return cls(models, first[0], first[1], device, config=first[2], precision=precision,
                   shortlist=listed)

    # -- search over the ensemble ------------------------------------------------------------
    def stepper(self, vocab: torch.Tensor | None):
        """Search's step function over the ensemble (ensemble.py), scoring the target ids `vocab` (n,),
        sorted and starting with the special ids (None: all): tokens (rows,) are positions in it."""
        return self.ensemble.scorer(vocab)

    reorder = staticmethod(Ensemble.reorder)

    def encode(self, src_ids: list[list[int]], cfg: DecodeConfig, mask: ShortlistMask | None = None
               ) -> tuple[EnsembleState, torch.Tensor]:
        """Search's start: the ensemble's state for a batch of non-empty id sequences (with a shortlist's
        mask, if any), and the (batch,) length limits. Search then runs over `stepper` and `reorder`."""
        src, src_lens = pad_sources(src_ids, self.reverse)
        state = self.ensemble.start(src.to(self.device), src_lens, mask)
        return state, (src_lens.double() * cfg.max_len_ratio + cfg.max_len_extra).long()

    @torch.inference_mode()
    def search(self, src_ids: list[list[int]], cfg: DecodeConfig,
               phrases: list[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        """Decode one batch of non-empty id sequences: greedy for beam 1, else beam search; with
        `phrases` (each sentence's constraints, target ids), constrained beam search (constraints.py) over
        the whole vocabulary, with a beam of cfg.beam."""
        starts = self.starts_word()
        if phrases is not None:
            state, max_lens = self.encode(src_ids, cfg)
            block = NoRepeat(cfg.no_repeat_ngram, starts, EOS) if cfg.no_repeat_ngram else None
            return constraints.constrained_beam_search(
                self.stepper(None), self.reorder, state, constraints=phrases, max_lens=max_lens, bos=BOS,
                eos=EOS, beam=cfg.beam, alpha=cfg.length_penalty, norm=cfg.length_norm,
                n_best=cfg.n_best, stop_early=cfg.stop_early, joins=self.joins(), block=block)
        vocab = mask = None
        if self.shortlist:
            vocab, own = self.shortlist.select(src_ids)  # (n,) ids 0..3 first; (batch, n)
            mask = ShortlistMask.of(own.to(self.device))
            starts = starts[vocab.cpu()]  # positions in the shortlist, as search sees them
        state, max_lens = self.encode(src_ids, cfg, mask)
        step = self.stepper(vocab)
        block = NoRepeat(cfg.no_repeat_ngram, starts, EOS) if cfg.no_repeat_ngram else None
        common = dict(max_lens=max_lens, bos=BOS, eos=EOS, alpha=cfg.length_penalty, norm=cfg.length_norm,
                      block=block)
        if cfg.beam <= 1:
            found = greedy_search(step, self.reorder, state, **common)
        else:
            found = beam_search(step, self.reorder, state, beam=cfg.beam, n_best=cfg.n_best,
                                stop_early=cfg.stop_early, **common)
        if vocab is not None:  # positions in the shortlist -> target ids
            ids = vocab.tolist()
            for hyps in found:
                for h in hyps:
                    h.tokens = [ids[t] for t in h.tokens]
        return found

    def joins(self) -> torch.Tensor:
        """(vocab,) bool: the target pieces that continue the word before them (no word-start mark, a
        letter or digit first): what may not follow a completed constraint."""
        return self._marks()[1]

    def starts_word(self) -> torch.Tensor:
        """(vocab,) bool: the target pieces with the word-start mark."""
        return self._marks()[0]

    def _marks(self) -> tuple[torch.Tensor, torch.Tensor]:
        if getattr(self, "_word_marks", None) is None:
            pieces = self.tgt_tok.pieces(list(range(len(self.tgt_tok))))
            starts = [i > EOS and p.startswith(WORD_START) for i, p in enumerate(pieces)]
            joins = [i > EOS and not p.startswith(WORD_START) and p[:1].isalnum()
                     for i, p in enumerate(pieces)]
            self._word_marks = torch.tensor(starts), torch.tensor(joins)
        return self._word_marks

    def attending_model(self) -> Seq2Seq:
        """The first model that attends: the one whose weights `alignments` shows."""
        model = next((m for m in self.models if m.decoder.attention is not None), None)
        if model is None:
            raise NMTError("showing attention weights needs a model with attention "
                           "(model.attention in its config)")
        return model

    def alignments(self, lines: list[str], hyps: list[Hypothesis]) -> list[dict]:
        """How each translation attended to its source line, by the first model that attends
        (alignment.py)."""
        return alignment.alignments(self, lines, hyps)

    def translate_ids(self, src_ids: list[list[int]], cfg: DecodeConfig,
                      phrases: list[list[list[int]]] | None = None) -> list[list[Hypothesis]]:
        """Each sequence's n-best list. Sequences with constraints (`phrases`, target ids, per sequence)
        decode apart from the rest, grouped by the beam their constraints need (constraints.beam_for):
        those without decode exactly as they would with no constraints anywhere."""
        results: list[list[Hypothesis]] = [[Hypothesis([], 0.0, 0.0)] for _ in src_ids]
        phrases = phrases or [[] for _ in src_ids]
        beams = [constraints.beam_for(p, cfg.beam) if p else 0 for p in phrases]
        for beam in sorted(set(beams)):
            wanted = [len(s) if b == beam else 0 for s, b in zip(src_ids, beams, strict=True)]
            group_cfg = cfg if beam == 0 else dataclasses.replace(cfg, beam=beam)
            for batch in length_batches(wanted, group_cfg):
                found = self.search([src_ids[i] for i in batch], group_cfg,
                                    [phrases[i] for i in batch] if beam else None)
                for i, hyps in zip(batch, found, strict=True):
                    results[i] = hyps
        return results

    def constraint_ids(self, terms: list[str], cfg: DecodeConfig, where: str) -> list[tuple[list[int], str]]:
        """Target terms as constraints, each once: (its ids as the target tokenizer writes it inside a
        sentence, after a space: sentencepiece's word-start mark included, the term). Characters the
        vocabulary lacks become <unk> pieces, and `restore` puts the term back in their place. Terms
        beyond cfg.max_constraint_tokens pieces are dropped, logged and counted."""
        out: list[tuple[list[int], str]] = []
        for term, ids in zip(terms, self.tgt_tok.encode(terms), strict=True):
            if not ids or any(ids == known for known, _ in out):
                continue
            if sum(len(known) for known, _ in out) + len(ids) > cfg.max_constraint_tokens:
                self.counts.too_many += 1
                log.warning("%s: the constraint %r is beyond the %d pieces of constraints a sentence may "
                            "have; dropped", where, term, cfg.max_constraint_tokens)
            else:
                out.append((ids, term))
        return out

    def restore(self, tokens: list[int], phrases: list[tuple[list[int], str]]) -> str | None:
        """The hypothesis `tokens` as text, each constraint in it that holds <unk> pieces written as its
        term again (the longest first, where they would overlap); None when no constraint has <unk>."""
        unknown = sorted(((ids, term) for ids, term in phrases if UNK in ids), key=lambda p: -len(p[0]))
        if not unknown:
            return None
        found: list[tuple[int, int, str]] = []
        for ids, term in unknown:
            n = len(ids)
            at = next((s for s in range(len(tokens) - n + 1) if tokens[s : s + n] == ids
                       and not any(a < s + n and s < b for a, b, _ in found)), None)
            if at is not None:
                found.append((at, at + n, term))
        parts: list[tuple[bool, str]] = []  # (starts a word, text) in order
        at = 0
        for start, end, term in sorted(found):
            if start > at:
                parts.append(self._segment(tokens[at:start]))
            parts.append((True, term))  # its first piece has the word-start mark
            at = end
        if at < len(tokens):
            parts.append(self._segment(tokens[at:]))
        text = ""
        for starts_word, piece in parts:
            text += (" " if text and starts_word else "") + piece
        return text

    def _segment(self, tokens: list[int]) -> tuple[bool, str]:
        """(Does it start a word, its text) for a stretch of a hypothesis."""
        starts_word = self.tgt_tok.pieces(tokens[:1])[0].startswith(WORD_START)
        return starts_word, self.tgt_tok.decode([tokens])[0].strip()

    def translate(self, texts: str | Iterable[str], *, attention: bool = False, format: str = "text",
                  glossary: Glossary | list[tuple[str, str]] | None = None,
                  constraints: list[list[str]] | None = None, **options) -> Translation | list[Translation]:
        """Translate a text, or a list of texts: exactly one Translation each, in order.

        options: any DecodeConfig field (beam, n_best, length_penalty, max_sentences, ...); the rest
        keep DecodeConfig's defaults. A text holding several lines is translated line by line and
        joined again, so line breaks survive. attention: also give each Translation its sentences, each
        with its translation and how it attended (a model with attention). format="html": each text is
        HTML, translated with its markup kept (markup.py; inline elements are placed by the attention
        of a model that has it, else around their whole sentence). glossary: a Glossary or (source term,
        target term) pairs; each sentence's translation holds the target terms of the source terms found
        in it (glossary.py). constraints: for each text, target phrases its translation must hold (a
        text of one line, translated whole). With keep_spans (on by default) numbers, URLs and e-mail
        addresses come out as they went in (spans.py).
        """
        unknown = sorted(set(options) - set(DECODE_OPTIONS))
        if unknown:
            raise NMTError(f"unknown decoding option {', '.join(unknown)}; "
                           f"valid: {', '.join(DECODE_OPTIONS)}")
        if format not in FORMATS:
            raise NMTError(f"format takes {' or '.join(FORMATS)}, got {format!r}")
        cfg = DecodeConfig(**options)
        one = isinstance(texts, str)
        texts = [texts] if one else list(texts)
        if isinstance(glossary, list):
            glossary = Glossary.of(glossary)
        if constraints is not None:
            constraints = [constraints] if one and constraints and isinstance(constraints[0], str) \
                else constraints
            if len(constraints) != len(texts) or any("\n" in text for text in texts):
                raise NMTError(f"constraints: give one list of phrases per text ({len(texts)} texts, "
                               f"{len(constraints)} lists), each text one line")
        if format == "html":
            out = self._translate_html(texts, cfg, attention=attention, glossary=glossary)
            return out[0] if one else out
        pieces = [text.split("\n") for text in texts]  # lines of each text
        if attention:
            self.attending_model()  # refused before any decoding
        flat = [line for lines in pieces for line in lines]
        results = list(self.translate_stream(flat, cfg, glossary=glossary, explicit=constraints))
        at = iter(results)
        out = [join_lines([next(at) for _ in lines], self.max_src_len) for lines in pieces]
        if attention:
            sentences = iter(alignment.by_sentence(self, flat, [nbest[0][1] for nbest in results]))
            for translation, lines in zip(out, pieces, strict=True):
                translation.sentences = [
                    {"source": source, "text": self.tgt_tok.decode([hyp.tokens])[0], "alignment": record}
                    for _ in lines for source, hyp, record in next(sentences)]
        return out[0] if one else out

    def _translate_html(self, pages: list[str], cfg: DecodeConfig, *, attention: bool,
                        glossary: Glossary | None) -> list[Translation]:
        """Each page's sentences decoded in one stream, aligned where they hold inline markup (by the
        model that attends, if any), and each page rendered again (markup.py). Alternative k of a page
        renders the k-th best of each sentence, its inline elements around their whole sentences."""
        if attention:
            self.attending_model()
        docs = [markup.parse(page) for page in pages]
        source = self.languages[0] if self.languages else None
        texts = [doc.texts(split=cfg.split_sentences, language=source) for doc in docs]
        flat = [text for page in texts for text in page]
        whole = dataclasses.replace(cfg, split_sentences=False)  # split already, around the markup
        found = list(self.translate_stream(flat, whole, glossary=glossary))
        wanted = [need for doc in docs for need in doc.needs_alignment()]
        if not attention and not any(m.decoder.attention is not None for m in self.models):
            wanted = [False] * len(flat)
        rows = [i for i, need in enumerate(wanted) if need or attention]
        records = alignment.by_sentence(self, [flat[i] for i in rows], [found[i][0][1] for i in rows]) \
            if rows else []
        per_text: list[list[dict]] = [[] for _ in flat]
        for i, parts in zip(rows, records, strict=True):
            per_text[i] = [{"source": s, "text": self.tgt_tok.decode([h.tokens])[0], "alignment": r}
                           for s, h, r in parts]
        out, at = [], 0
        for doc, page in zip(docs, texts, strict=True):
            mine = range(at, at + len(page))
            at += len(page)
            k = max((len(found[i]) for i in mine), default=1)
            ranked = []
            for alt in range(k):
                chosen = [found[i][min(alt, len(found[i]) - 1)] for i in mine]
                done = [Translation(text, hyp.score, sentences=per_text[i] if alt == 0 else [])
                        for i, (text, hyp) in zip(mine, chosen, strict=True)]
                ranked.append(Translation(doc.render(done), sum(t.score for t in done) / max(1, len(done))))
            ranked[0].alternatives = ranked[1:]
            cut = sum(getattr(found[i][0][1], "cut", 0) for i in mine)
            if cut:
                ranked[0].warnings.append(f"{cut} sentence(s) longer than the model's limit of "
                                          f"{self.max_src_len} tokens were translated in pieces")
            if attention:
                ranked[0].sentences = [s for i in mine for s in per_text[i]]
            out.append(ranked[0])
        return out

    def translate_stream(self, lines: Iterable[str], cfg: DecodeConfig, *,
                         glossary: Glossary | None = None, explicit: Iterable[list[str]] | None = None
                         ) -> Iterator[list[tuple[str, Hypothesis]]]:
        """For each input line, in order, its n-best list of (detokenized text, hypothesis). With
        cfg.split_sentences each sentence of a line is decoded on its own and the line joined again
        (lines.py); inputs too long for the model are cut (and counted in self.counts). Each sentence's
        translation holds the target terms of the `glossary` terms found in it and, with cfg.keep_spans,
        its numbers, URLs and e-mail addresses (spans.py). `explicit`: a list of target phrases per line
        that its translation must hold (the lines are then not split). Lines are read CHUNK_LINES at a
        time, so an endless pipe streams."""
        lines, first = iter(lines), 1
        source = self.languages[0] if self.languages else None
        wanted = iter(explicit) if explicit is not None else None
        while chunk := list(itertools.islice(lines, CHUNK_LINES)):
            parsed, src_ids = sentences(chunk, self.src_tok, limit=self.max_src_len,
                                        split=cfg.split_sentences and wanted is None, language=source,
                                        first=first, counts=self.counts)
            phrases = self._phrases(parsed, cfg, glossary, wanted, first)
            first += len(chunk)
            ids = [[known for known, _ in p] for p in phrases] if phrases else None
            found = iter(self.translate_ids(src_ids, cfg, ids))
            restoring = iter(phrases or [])
            for line in parsed:
                nbests = []
                for _ in line.sentences:
                    hyps, mine = next(found), next(restoring, [])
                    decoded = self.tgt_tok.decode([h.tokens for h in hyps])
                    texts = [self.restore(h.tokens, mine) or t for h, t in zip(hyps, decoded, strict=True)]
                    nbests.append(list(zip(texts, hyps, strict=True)))
                yield rejoin(line, nbests)


    def _phrases(self, parsed: list, cfg: DecodeConfig, glossary: Glossary | None, wanted: Iterator | None,
                 first: int) -> list[list[tuple[list[int], str]]] | None:
        """Each sentence's constraints (constraint_ids); None when no sentence has any."""
        if glossary is None and not cfg.keep_spans and wanted is None:
            return None
        out = []
        for k, line in enumerate(parsed):
            line_terms = next(wanted, None) if wanted is not None else []
            if line_terms is None:
                raise NMTError(f"input line {first + k} has no line of constraints: give one (a JSON list, "
                               "[] for none) per input line")
            for sentence in line.texts():
                terms = [*(glossary.targets(sentence) if glossary else []),
                         *(spans(sentence) if cfg.keep_spans else []), *line_terms]
                out.append(self.constraint_ids(terms, cfg, f"input line {first + k}") if terms else [])
        return out if any(out) else None
