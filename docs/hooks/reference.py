"""MkDocs hook: the configuration and command-line references, generated from the code at every build.

A page holding the line `<!-- config-reference -->` gets, in its place, one table per settings section:
each field's name, default, allowed values (config.RANGES and config.CHOICES) and the comment beside it in
config.py. A page holding `<!-- cli-reference -->` gets every command's `--help` as Typer prints it. So
neither reference can fall behind the code: a field or option added, renamed or given another range shows
up at the next `make docs`.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

MARKER = "<!-- config-reference -->"
CLI_MARKER = "<!-- cli-reference -->"
SECTIONS = [  # (section as YAML and --set name it, class, where it is set)
    ("model", "ModelConfig", "the `model:` section of a config (`--set model.KEY=VALUE`)"),
    ("data", "DataConfig", "the `data:` section of a config (`--set data.KEY=VALUE`)"),
    ("train", "TrainConfig", "the `train:` section of a config (`--set train.KEY=VALUE`)"),
    ("decode", "DecodeConfig",
     "decoding: `nmt translate`/`evaluate`/`serve` options, `Translator.translate(**options)`"),
    ("runtime", "RuntimeConfig", "how decoding runs: `--device`, `--dtype`, ... and `Translator.load(...)`"),
    ("shortlist", "ShortlistConfig", "`nmt shortlist`"),
    ("split", "SplitConfig", "`nmt data split` and `nmt data tatoeba`"),
    ("serve", "ServeConfig", "`nmt serve`'s limits"),
]


def comments(cls) -> dict[str, str]:
    """Each field's comment in the class's source: the one on its line, after those on the lines above."""
    found, above = {}, []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").rstrip())
            continue
        field = re.match(r"\s+(\w+): [^=]+=.*?(?:#\s*(.*))?$", line)
        if field:
            found[field.group(1)] = " ".join([*above, field.group(2) or ""]).strip()
        above = []
    return found


def allowed(config, section: str, name: str) -> str:
    choices = config.CHOICES.get((section, name))
    if choices:
        return ", ".join("none" if c is None else f"`{c}`" for c in choices)
    value_range = config.RANGES.get(section, {}).get(name)
    return str(value_range) if value_range is not None else ""


def default_of(field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return ""
    return "none" if value is None else f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def reference() -> str:
    from nmt import config
    out = []
    for section, name, where in SECTIONS:
        cls = getattr(config, name)
        notes = comments(cls)
        out += [f"## {section}", "", f"{where}. (`nmt.config.{name}`)", "",
                "| setting | default | allowed | what it does |", "| --- | --- | --- | --- |"]
        for field in dataclasses.fields(cls):
            text = notes.get(field.name, "").replace("|", "\\|").replace("<", "&lt;")
            values = allowed(config, section, field.name)
            out.append(f"| `{section}.{field.name}` | {default_of(field)} | {values} | {text} |")
        out.append("")
    return "\n".join(out)


def cli_reference() -> str:
    """Every command's help, as `nmt COMMAND --help` prints it (`nmt data ...` and `nmt-lite` too)."""
    import typer

    from nmt.cli import app
    from nmt.lite.cli import parser as lite_parser
    out = []

    def add(command, path: list[str]) -> None:  # a command of the click that Typer carries
        ctx = command.context_class(command, info_name=" ".join(path), terminal_width=100)
        out.extend([f"## `{' '.join(path)}`", "", "```", command.get_help(ctx), "```", ""])
        for name in command.list_commands(ctx) if hasattr(command, "list_commands") else ():
            add(command.get_command(ctx, name), [*path, name])

    add(typer.main.get_command(app), ["nmt"])
    lite = lite_parser().translate.format_help().rstrip()
    out.extend(["## `nmt-lite translate`", "", "```", lite, "```", ""])
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown


def on_files(files, config):
    """The figures the benchmarks draw (bench/results/*.png) join the site at the same paths, so a page
    links them as ../bench/results/NAME.png without a copy kept in docs/."""
    from pathlib import Path

    from mkdocs.structure.files import File
    root = Path(config["config_file_path"]).parent
    for figure in sorted((root / "bench" / "results").glob("*.png")):
        files.append(File(str(figure.relative_to(root)), str(root), config["site_dir"],
                          config["use_directory_urls"]))
    return files


KNOWN_ELSEWHERE = {"--nproc-per-node", "--index-url", "--logdir", "--convert-to", "--standalone"}
OPTION = re.compile(r"`(--[a-z][a-z0-9-]*)")
SETTING = re.compile(r"`((?:model|data|train)\.[a-z_]+)(?=[`=\s])")
FILE_SUFFIXES = {"py", "de", "en", "fr", "cs", "log", "pt", "jsonl", "yaml", "bin", "idx", "model", "gz",
                 "tsv"}


def names_in_code() -> tuple[set[str], set[str]]:
    """Every option of every command (nmt and nmt-lite), and every setting a config may hold."""
    from nmt import config
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", cli_reference()))
    settings = {f"{section}.{f.name}" for section, cls in config.SECTIONS.items()
                for f in dataclasses.fields(cls)}
    return options, settings


def on_page_content(html: str, page, config, files) -> str:
    """A page that names an option or setting the code does not have fails the build (strict): the
    guide cannot go on describing what was removed or renamed."""
    import logging
    options, settings = names_in_code()
    source, warn = page.file.content_string, logging.getLogger("mkdocs").warning
    for name in sorted(set(OPTION.findall(source)) - options - KNOWN_ELSEWHERE):
        warn(f"{page.file.src_uri} names the option {name}, which no command has")
    for name in sorted(set(SETTING.findall(source)) - settings):
        if name.rpartition(".")[2] not in FILE_SUFFIXES:  # train.de, data.py: file names
            warn(f"{page.file.src_uri} names the setting {name}, which config.py has not")
    return html
