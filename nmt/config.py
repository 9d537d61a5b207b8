"""Every default of nmt lives here, in dataclasses; YAML files and `--set key=value` override them."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nmt import NMTError
from nmt.corpora import corpus_entries
from nmt.fileio import read_yaml, yaml_problem


@dataclass
class ModelConfig:
    emb: int = 256                # embedding size, source and target
    hidden: int = 512             # LSTM/GRU state size, both sides (the encoder's state starts the decoder)
    layers: int = 2               # stacked recurrent layers per side
    cell: str = "lstm"            # lstm | gru
    dropout: float = 0.2          # on embeddings, between layers and before the output layer
    reverse_source: bool = True   # read the source backwards (Sutskever et al. 2014): first words close
    tie_embeddings: bool = False  # share the decoder's input embedding with the output matrix
    bidirectional: bool = False   # encoder reads the source both ways, each direction hidden/2 wide
    attention: str = "none"       # none | dot | general | additive: attend to the encoder's outputs
    input_feeding: bool = False   # with attention: the last attentional state joins the decoder's input
    max_len: int = 100            # tokens: longer training pairs are dropped, longer inputs cut in pieces


@dataclass
class DataConfig:
    train_src: str = ""           # one training corpus (data.corpora for several)
    train_tgt: str = ""           # its target side, aligned line by line
    valid_src: str = ""           # one validation set (data.valid for several)
    valid_tgt: str = ""           # its target side (the references)
    # Several training corpora in one training (mixture.py): a list of {name, src, tgt, weight}. An epoch
    # draws as many pairs as the corpora hold together; corpus i's share is proportional to weight_i (weight
    # 1 each: equal shares), or with temperature T > 0 to weight_i * pairs_i ** (1 / T) (T 1: as if
    # concatenated; larger T: towards equal shares). name defaults to the src file's folder name.
    corpora: list = field(default_factory=list)
    temperature: float = 0.0      # 0: shares by weight alone; T > 0: weight * pairs ** (1 / T) (above)
    # Several validation sets, each scored at every validation: a list of {name, src, tgt}. train.metric
    # follows their mean: the mean BLEU, the mean loss, and exp(mean loss) for perplexity.
    valid: list = field(default_factory=list)
    tokenizers: str = ""          # folder with src.model/tgt.model; empty: train them into the run folder
    vocab_size: int = 8000        # for tokenizers trained by `nmt train` (over the corpora, by their shares)
    model_type: str = "unigram"   # unigram | bpe | char | word
    joint: bool = False           # one shared sentencepiece model for both sides
    byte_fallback: bool = True    # characters outside the vocabulary become byte pieces instead of <unk>
    # what the model learns to carry (augment.py): spans found on both sides of a pair as placeholders,
    # which decoding then uses for kept spans; a share of pairs given a made-up span; a share of pairs with
    # source words annotated with their translation, which glossaries then use (glossary_mode annotate)
    placeholders: bool = False
    span_share: float = 0.1
    term_share: float = 0.0
    term_swap: float = 0.0        # of the annotated words, the share given another target word (augment.py)
    # subword regularisation (Kudo 2018): the training data encoded this many times with segmentations
    # sampled from the tokenizers, epoch e reading encoding e % sampling_variants; 0: the best one only
    sampling_variants: int = 0
    sampling_alpha: float = 0.5   # smoothing of the sampled segmentations: lower is more varied


@dataclass
class TrainConfig:
    loss: str = "sampled"         # sampled | full: sampled softmax (Jean et al. 2015) or the full softmax
    num_sampled: int = 1024       # negatives per batch; at or above the vocabulary size: the full softmax
    # unigram (counted target frequencies ** sampler_power) | log_uniform (over frequency ranks) | uniform
    sampler: str = "unigram"
    sampler_power: float = 0.75   # flattens the unigram proposal so rare words get sampled too
    label_smoothing: float = 0.0  # this share of each target's probability spread over the vocabulary
    max_tokens: int = 4096        # target tokens (with padding) per batch
    accum: int = 1                # batches per update on each process (gradient accumulation)
    lr: float = 1e-3              # Adam
    clip: float = 1.0             # gradient-norm clip: the guard against exploding gradients through time
    schedule: str = "plateau"     # plateau (multiply lr by lr_decay when the metric stalls) | constant
    lr_decay: float = 0.5         # plateau: the lr is multiplied by this when the metric stalls
    lr_patience: int = 0          # validations without improvement before the lr is decayed
    min_lr: float = 1e-5          # plateau: the lr never decays below this
    warmup_steps: int = 0         # the lr climbs linearly from lr/warmup_steps to lr over these first updates
    max_steps: int = 0            # 0: no limit
    max_epochs: int = 30          # passes over the training data (an epoch of a mixture: mixture.py)
    max_minutes: float = 0.0      # 0: no limit; wall-clock budget for the run
    valid_every: int = 0          # steps between validations; 0: once per epoch
    metric: str = "ppl"           # ppl | loss | bleu: followed by early stopping, best.pt and the schedule
    patience: int = 5             # validations without improvement before stopping; 0: never stop early
    keep_last: int = 3            # step checkpoints kept besides best.pt and last.pt
    log_every: int = 50           # steps between log lines
    tensorboard: bool = False     # also write TensorBoard event files into RUN/tensorboard (nmt[tensorboard])
    max_bad_steps: int = 5        # consecutive NaN/inf losses before the run stops
    seed: int = 1                 # weights, batches, dropout, sampled negatives: the same seed, the same run
    threads: int = 0              # CPU threads; 0: torch's default
    dtype: str = "auto"           # auto (bf16 where the hardware runs it, else fp32) | fp32 | bf16 (autocast)


# how glossary terms are used by a model trained with term annotations, unless asked otherwise (sources.py;
# chosen by `python -m bench terms`)
GLOSSARY_MODE = "both"
FORMATS = ("text", "html")  # what a text to translate is: plain text, or HTML whose markup is kept


@dataclass
class DocumentLimits:
    """What a document (text/documents/) may be: it is untrusted input, and a zip archive may be a bomb."""
    max_bytes: int = 50_000_000       # the file itself
    max_members: int = 10_000         # files inside a zip archive (.docx, .pptx, .odt, .odp, .epub)
    max_unpacked: int = 500_000_000   # bytes of all members together, uncompressed
    max_ratio: int = 200              # uncompressed / compressed, for a member over 1 MB
    max_chars: int = 5_000_000        # characters of text to translate

    def __post_init__(self):
        check_section("documents", self)


@dataclass
class DecodeConfig:
    beam: int = 5                 # 1 is greedy
    n_best: int = 1               # hypotheses returned per sentence, best first; at most `beam`
    length_penalty: float = 1.0   # GNMT alpha: score / ((5 + len) / 6) ** alpha
    length_norm: str = "gnmt"     # gnmt | average (score / len) | none
    max_len_ratio: float = 1.5    # hypotheses stop at ratio * source length + max_len_extra tokens
    max_len_extra: int = 10       # (see max_len_ratio)
    stop_early: bool = True       # beam: end a sentence once its best candidate ended (else: once `beam` did)
    max_tokens: int = 8000        # source tokens per decoding batch
    max_sentences: int = 128      # sentences per decoding batch
    split_sentences: bool = True  # translate each sentence of a line on its own (segment.py), then rejoin
    keep_spans: bool = True       # numbers, URLs and e-mail addresses come out as they went in (spans.py)
    max_constraint_tokens: int = 24  # a sentence's constraints beyond this many target pieces are dropped
    no_repeat_ngram: int = 0      # N > 0: no N words twice in a translation (repeats.py); 0: no such rule
    glossary_mode: str = "auto"   # annotate | constrain | both | auto: the model's (sources.py)

    def __post_init__(self):
        check_section("decode", self)
        if self.n_best > self.beam:
            raise NMTError(f"n-best {self.n_best} needs a beam at least as wide (beam {self.beam})")


@dataclass
class RuntimeConfig:
    """How decoding runs (not what it finds): shared by translate, evaluate, serve and Translator.load."""
    device: str | None = None     # cpu | cuda | cuda:N; None: CUDA when present (the CPU with quantize)
    dtype: str = "fp32"           # fp32 | bf16 (bf16 products, fp32 softmax) | auto (bf16 where native)
    quantize: str | None = None   # None | int8: int8 weights for CPU decoding
    shortlist: bool = False       # score each sentence over its run's shortlist.bin lists only
    threads: int = 0              # CPU threads; 0: torch's default

    def __post_init__(self):
        if self.quantize not in CHOICES[("runtime", "quantize")]:
            raise NMTError(f"--quantize takes int8, got {self.quantize!r}")
        if self.dtype not in CHOICES[("runtime", "dtype")]:
            raise NMTError(f"--dtype takes {', '.join(CHOICES[('runtime', 'dtype')])}, got {self.dtype!r}")
        if self.quantize and self.dtype == "bf16":
            raise NMTError("--dtype bf16 and --quantize int8 do not combine (int8 kernels keep their own "
                           "precision); choose one")
        if self.quantize and self.device and not self.device.startswith("cpu"):
            raise NMTError("--quantize int8 runs on CPU only; drop it or use --device cpu")
        check_section("runtime", self)


@dataclass
class ShortlistConfig:
    # Multi30k val, 8k target pieces, the attention config's 15-minute model, bf16 beam 5: BLEU 39.38
    # over the whole vocabulary; k 10 / frequent 100: 38.62 (156 pieces per sentence, 2,120 per batch
    # of 64); k 20 / frequent 200: 39.44 (291, 3,297); k 50 / frequent 200: 39.66 (402, 4,924).
    k: int = 20                   # target pieces listed per source piece (those it co-occurs with most)
    frequent: int = 200           # the most frequent target pieces, listed for every sentence

    def __post_init__(self):
        check_section("shortlist", self)


@dataclass
class SplitConfig:
    """A leak-free train / valid / test split (split.py, `nmt data split`, `nmt data tatoeba`)."""
    valid: int = 2000             # pairs held out for validation
    test: int = 2000              # pairs held out for testing
    seed: int = 1                 # the draw of held-out groups: the same seed gives the same split
    min_words: int = 5            # held-out pairs have sources of at least this many words
    # when two sentences are the same: exact | normalized (case, spacing, punctuation ignored) | near
    # (normalized, and train also loses pairs one word from a held-out sentence: Tatoeba de-en 4,082)
    match: str = "near"
    max_group: int = 50           # pairs: a larger group of shared sentences stays in train

    def __post_init__(self):
        check_section("split", self)


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"       # loopback: only this machine can connect unless told otherwise
    port: int = 5000              # the TCP port to listen on
    max_body: int = 1_000_000     # bytes per request body (413 above)
    max_chars: int = 5_000        # characters per text (413 above)
    max_texts: int = 128          # texts per request (413 above)
    max_queue: int = 1_024        # sentences waiting or being decoded, all requests together (429 above)
    batch_wait_ms: float = 5.0    # how long a lone request waits for others to share its decode
    max_beam: int = 10            # the widest beam (and most alternatives + 1) a request may ask for
    max_glossary: int = 1_000     # glossary entries per request (413 above)
    allow_origins: tuple[str, ...] = ()  # web origins whose pages may call the API (CORS); "*": any
    max_file: int = 10_000_000    # bytes of a document sent to /translate_file (413 above)
    file_minutes: float = 30.0    # how long a translated document waits for its download
    max_stored: int = 500_000_000  # bytes of translated documents kept at once (the oldest go first)

    def __post_init__(self):
        check_section("serve", self)
        if self.max_texts > self.max_queue:
            raise NMTError(f"max_texts {self.max_texts} cannot exceed max_queue {self.max_queue}")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> Config:
        """Every value within its range, and settings that only work together (for configs built in code;
        loading checks each value as it reads it)."""
        for section in SECTIONS:
            check_section(section, getattr(self, section))
        m = self.model
        if m.bidirectional and m.reverse_source:
            raise NMTError("model.reverse_source has no use with model.bidirectional: true (the encoder "
                           "reads both ways); set model.reverse_source: false")
        if m.bidirectional and m.hidden % 2:
            raise NMTError(f"model.hidden must be even with model.bidirectional (each direction gets half), "
                           f"got {m.hidden}")
        if m.input_feeding and m.attention == "none":
            raise NMTError("model.input_feeding needs attention; "
                           "set model.attention to dot, general or additive")
        d = self.data
        for many, one in (("corpora", "train"), ("valid", "valid")):
            if getattr(d, many) and (getattr(d, f"{one}_src") or getattr(d, f"{one}_tgt")):
                raise NMTError(f"data.{many} and data.{one}_src/{one}_tgt both name {one} data; keep one")
        return self


@dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: low..high, each end included unless marked open."""
    low: float
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


AT_LEAST_0, AT_LEAST_1, POSITIVE = Range(0), Range(1), Range(0, open_low=True)
FRACTION = Range(0, 1, open_high=True)  # [0, 1): dropout, label smoothing
# Every numeric setting has a range here (a test holds every field to it).
RANGES = {
    "model": {"emb": AT_LEAST_1, "hidden": AT_LEAST_1, "layers": AT_LEAST_1, "dropout": FRACTION,
              "max_len": AT_LEAST_1},
    "data": {"vocab_size": Range(8), "sampling_variants": AT_LEAST_0, "temperature": AT_LEAST_0,
             "sampling_alpha": Range(0, 1, open_low=True), "span_share": Range(0, 1),
             "term_share": Range(0, 1), "term_swap": Range(0, 1)},
    "train": {"num_sampled": AT_LEAST_1, "sampler_power": AT_LEAST_0, "label_smoothing": FRACTION,
              "max_tokens": AT_LEAST_1, "accum": AT_LEAST_1, "lr": AT_LEAST_0, "clip": POSITIVE,
              "lr_decay": Range(0, 1, open_low=True, open_high=True), "lr_patience": AT_LEAST_0,
              "min_lr": AT_LEAST_0, "warmup_steps": AT_LEAST_0, "max_steps": AT_LEAST_0,
              "max_epochs": AT_LEAST_1, "max_minutes": AT_LEAST_0, "valid_every": AT_LEAST_0,
              "patience": AT_LEAST_0,
              "keep_last": AT_LEAST_0, "log_every": AT_LEAST_1, "max_bad_steps": AT_LEAST_1,
              "seed": AT_LEAST_0, "threads": AT_LEAST_0},
    "decode": {"beam": AT_LEAST_1, "n_best": AT_LEAST_1, "length_penalty": AT_LEAST_0,
               "max_len_ratio": AT_LEAST_0, "max_len_extra": AT_LEAST_0, "max_tokens": AT_LEAST_1,
               "max_sentences": AT_LEAST_1, "max_constraint_tokens": AT_LEAST_1,
               "no_repeat_ngram": AT_LEAST_0},
    "runtime": {"threads": AT_LEAST_0},
    "shortlist": {"k": AT_LEAST_1, "frequent": AT_LEAST_0},
    "split": {"valid": AT_LEAST_0, "test": AT_LEAST_0, "seed": AT_LEAST_0, "min_words": AT_LEAST_1,
              "max_group": AT_LEAST_1},
    "serve": {"port": Range(1, 65535), "max_body": AT_LEAST_1, "max_chars": AT_LEAST_1,
              "max_texts": AT_LEAST_1, "max_queue": AT_LEAST_1, "batch_wait_ms": AT_LEAST_0,
              "max_beam": AT_LEAST_1, "max_glossary": AT_LEAST_0, "max_file": AT_LEAST_1,
              "file_minutes": POSITIVE, "max_stored": AT_LEAST_1},
    "documents": {"max_bytes": AT_LEAST_1, "max_members": AT_LEAST_1, "max_unpacked": AT_LEAST_1,
                  "max_ratio": AT_LEAST_1, "max_chars": AT_LEAST_1},
}


SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
CHOICES = {
    ("model", "cell"): ("lstm", "gru"),
    ("model", "attention"): ("none", "dot", "general", "additive"),
    ("data", "model_type"): ("unigram", "bpe", "char", "word"),
    ("train", "loss"): ("sampled", "full"),
    ("train", "sampler"): ("unigram", "log_uniform", "uniform"),
    ("train", "schedule"): ("plateau", "constant"),
    ("train", "metric"): ("bleu", "loss", "ppl"),
    ("train", "dtype"): ("auto", "fp32", "bf16"),
    ("decode", "length_norm"): ("gnmt", "average", "none"),
    ("decode", "glossary_mode"): ("auto", "annotate", "constrain", "both"),
    ("runtime", "dtype"): ("fp32", "bf16", "auto"),
    ("runtime", "quantize"): (None, "int8"),
    ("split", "match"): ("exact", "normalized", "near"),
}


def _coerce(section: str, key: str, value: Any, kind: type) -> Any:
    where, numeric = f"{section}.{key}", isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is bool and not isinstance(value, bool):
        raise NMTError(f"{where} must be true or false, got {value!r}")
    if kind is int and not (numeric and isinstance(value, int)):
        raise NMTError(f"{where} must be an integer, got {value!r}")
    if kind is float and not numeric:
        raise NMTError(f"{where} must be a number, got {value!r}")
    if kind is str:
        return "" if value is None else str(value)
    return float(value) if kind is float else value


def _apply(cfg: Config, section: str, key: str, value: Any) -> None:
    if section not in SECTIONS:
        raise NMTError(f"unknown config section {section!r}; valid sections: {', '.join(SECTIONS)}")
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
    if key not in fields:
        raise NMTError(f"unknown key {section}.{key}; valid keys in {section}: {', '.join(fields)}")
    kind = {"int": int, "float": float, "bool": bool, "str": str, "list": list}[fields[key].type]
    value = corpus_entries(key, value) if kind is list else _coerce(section, key, value, kind)
    _check_value(section, key, value)
    setattr(getattr(cfg, section), key, value)


def _check_value(section: str, key: str, value: Any) -> None:
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        raise NMTError(f"{section}.{key} must be one of {', '.join(choices)}, got {value!r}")
    allowed = RANGES.get(section, {}).get(key)
    if allowed is not None and value not in allowed:
        raise NMTError(f"{section}.{key} must be {allowed}, got {value!r}")


def check_section(section: str, values: Any) -> None:
    """Refuse a value outside its choices or range, naming the key, the value and what is allowed."""
    for f in dataclasses.fields(values):
        _check_value(section, f.name, getattr(values, f.name))


def from_dict(raw: dict, base: Config | None = None) -> Config:
    cfg = base or Config()
    if not isinstance(raw, dict):
        raise NMTError("a config must be a mapping of sections (model, data, train) to settings")
    for section, values in raw.items():
        if section not in SECTIONS:
            raise NMTError(f"unknown config section {section!r}; valid sections: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise NMTError(f"config section {section!r} must be a mapping of keys to values")
        for key, value in values.items():
            _apply(cfg, section, key, value)
    return cfg.check()


def load(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Defaults, then the YAML file, then `section.key=value` overrides (values parsed as YAML)."""
    cfg = Config()
    if path:
        from_dict(read_yaml(Path(path)), cfg)
    apply_overrides(cfg, overrides)
    return cfg.check()


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or "." not in key:
            raise NMTError(f"--set expects section.key=value (e.g. model.hidden=512), got {item!r}")
        section, name = key.strip().split(".", 1)
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as e:
            raise NMTError(f"--set {item}: the value is not valid YAML ({yaml_problem(e)}); "
                           "put text in quotes") from e
        _apply(cfg, section, name, value)
    return cfg
