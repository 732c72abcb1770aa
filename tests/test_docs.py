"""Docs that cannot rot.

Every `scenegan ...` command line in a code block of README.md, docs/*.md and the model card
must parse through click itself: the command exists, every option it names exists and takes the
value given (choices and ranges included), no argument is left over and nothing required is
missing. Where the command has a `--dry-run` that prints its configuration, the line is run with
it, so the config dataclass checks the values too. Inline code in the prose (`scenegan sample
--loop`) often shows a part of a command line: there the command and every option it names must
exist. `docs/cli.md`, generated from click's help,
must be what `python docs/make_cli_doc.py` writes now.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import scenegan.cli
from scenegan.cli import cli

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / "docs" / "cli.md"
DOCS = [
    REPO / "README.md",
    REPO / "checkpoints" / "README.md",
    *sorted(p for p in (REPO / "docs").glob("*.md") if p != GENERATED),
]
# Code blocks in these languages hold no shell command lines.
NOT_SHELL = {"python", "py", "json", "toml", "yaml", "text"}
# Shell operators between commands on one line.
SEPARATORS = {"&&", "||", ";", "|", "&"}
# A line that runs scenegan: the word itself, or `-m scenegan.cli` (python -m, torchrun).
RUNS_SCENEGAN = re.compile(r"(?:^|[\s;&|])(?:scenegan|-m\s+scenegan\.cli)(?:\s|$)")
# What `--dry-run` says when it prints the configuration (fetch's own --dry-run searches Flickr).
PRINTS_CONFIG = "Print the configuration and exit."


def code_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number of the first line, language, lines) of every fenced code block."""
    blocks, current, language, start = [], None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"\s*```+\s*(\S*)", line)
        if fence and current is None:
            current, language, start = [], fence[1].lower(), number + 1
        elif fence:
            blocks.append((start, language, current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def logical_lines(lines: list[str], start: int) -> list[tuple[int, str]]:
    """Lines with their shell continuations (a trailing backslash) joined, numbered by their
    first line."""
    joined, pending, first = [], "", start
    for number, line in enumerate(lines, start):
        if not pending:
            first = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append((first, pending + line))
        pending = ""
    if pending:
        joined.append((first, pending))
    return joined


def scenegan_args(line: str) -> list[list[str]]:
    """The arguments of every scenegan command on a shell line: `scenegan ARGS`, or `python -m
    scenegan.cli ARGS` and `torchrun ... -m scenegan.cli ARGS`. A command substitution `$(...)`
    stands for one word; comments, environment assignments and a `...` ("and more") are left
    out."""
    line = re.sub(r"\$\([^()]*\)", "SUBSTITUTED", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    tokens = list(lexer)
    commands, current = [], []
    for token in [*tokens, ";"]:
        if token in SEPARATORS:
            commands.append(current)
            current = []
        else:
            current.append(token)
    found = []
    for words in commands:
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]
        if words[:1] == ["scenegan"]:
            args = words[1:]
        elif "scenegan.cli" in words and words[words.index("scenegan.cli") - 1] == "-m":
            args = words[words.index("scenegan.cli") + 1 :]
        else:
            continue
        found.append([word for word in args if word not in ("...", "…")])
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, arguments) of every scenegan command line in the docs."""
    found = []
    for path in DOCS:
        for start, language, lines in code_blocks(path.read_text()):
            if language in NOT_SHELL:
                continue
            for number, line in logical_lines(lines, start):
                if not RUNS_SCENEGAN.search(line):
                    continue
                where = f"{path.relative_to(REPO)}:{number}"
                try:
                    found += [(where, args) for args in scenegan_args(line)]
                except ValueError as error:  # shlex: an unclosed quote
                    found.append((where, [f"!shell: {error}: {line}"]))
    return found


def inline_commands() -> list[tuple[str, list[str]]]:
    """(where, arguments) of every inline code span in the prose that starts `scenegan `."""
    found = []
    for path in DOCS:
        text = re.sub(r"```.*?```", lambda m: "\n" * m[0].count("\n"), path.read_text(), flags=re.S)
        for number, line in enumerate(text.splitlines(), 1):
            for span in re.findall(r"`(scenegan [^`]+)`", line):
                where = f"{path.relative_to(REPO)}:{number}"
                found += [(where, args) for args in scenegan_args(span)]
    return found


COMMANDS = documented_commands()
INLINE = inline_commands()


def prints_config(command: click.Command) -> bool:
    return any(
        p.name == "dry_run" and getattr(p, "help", "") == PRINTS_CONFIG for p in command.params
    )


@pytest.fixture
def no_files_needed(monkeypatch, tmp_path):
    """Paths in the docs are examples (datasets/clips, my.jpg): click checks their type but
    not that they exist here, and a device the docs name (cuda) need not be in this machine.
    The commands run in an empty folder."""
    monkeypatch.setattr(
        click.Path, "convert", lambda self, value, param, ctx: self.coerce_path_result(value)
    )
    monkeypatch.setattr(scenegan.cli, "_check_device", lambda device: None)
    monkeypatch.chdir(tmp_path)


def test_the_docs_hold_command_lines_of_every_command():
    """The test reads what it should: every command is shown at least once."""
    shown = {args[0] for _, args in COMMANDS if args}
    assert shown >= set(cli.commands), sorted(set(cli.commands) - shown)
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_a_documented_command_line_parses(where, args, no_files_needed):
    assert args, f"{where}: `scenegan` with no command"
    assert not args[0].startswith("!shell"), f"{where}: not a shell line: {args[0]}"
    root = cli.make_context("scenegan", [], resilient_parsing=True)
    command = cli.get_command(root, args[0])
    assert command is not None, f"{where}: scenegan has no command {args[0]!r}"
    try:
        command.make_context(args[0], list(args[1:]), parent=root)
    except click.ClickException as error:
        pytest.fail(f"{where}: scenegan {shlex.join(args)}: {error.format_message()}")
    if prints_config(command):
        result = CliRunner().invoke(cli, [*args, "--dry-run"])
        assert result.exit_code == 0, f"{where}: --dry-run: {result.output}{result.exception!r}"


@pytest.mark.parametrize(("where", "args"), INLINE, ids=[w for w, _ in INLINE])
def test_a_command_named_in_the_prose_has_every_option_it_names(where, args):
    root = cli.make_context("scenegan", [], resilient_parsing=True)
    command = cli.get_command(root, args[0])
    assert command is not None, f"{where}: scenegan has no command {args[0]!r}"
    try:  # resilient: values and required options are not checked, option names are
        command.make_context(args[0], list(args[1:]), parent=root, resilient_parsing=True)
    except click.ClickException as error:
        pytest.fail(f"{where}: scenegan {shlex.join(args)}: {error.format_message()}")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("scenegan sample --n 3  # a comment's quote", [["sample", "--n", "3"]]),
        ("pip install -e . && scenegan sample", [["sample"]]),
        ("export A=1 B=2   # no scenegan here", []),
        ("X=1 scenegan export a/$(cat a/latest) b.pt", [["export", "a/SUBSTITUTED", "b.pt"]]),
        (
            "torchrun --nproc_per_node=N -m scenegan.cli train --stage small ...",
            [["train", "--stage", "small"]],
        ),
        ("scenegan evaluate --groups 'a=x-*;b=y-*'", [["evaluate", "--groups", "a=x-*;b=y-*"]]),
    ],
)
def test_command_lines_are_read_as_a_shell_would(line, expected):
    assert scenegan_args(line) == expected


def test_continuations_are_joined():
    lines = ["scenegan train --stage large \\", "    --data d --minutes 5", "ls"]
    assert logical_lines(lines, 10) == [
        (10, "scenegan train --stage large      --data d --minutes 5"),
        (12, "ls"),
    ]


def test_an_option_the_code_does_not_have_fails(no_files_needed):
    root = cli.make_context("scenegan", [], resilient_parsing=True)
    with pytest.raises(click.NoSuchOption):
        cli.get_command(root, "sample").make_context("sample", ["--colour", "x"], parent=root)


def test_cli_md_is_what_the_generator_writes_now():
    spec = importlib.util.spec_from_file_location("make_cli_doc", REPO / "docs" / "make_cli_doc.py")
    make_cli_doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_cli_doc)
    assert GENERATED.read_text() == make_cli_doc.render(), (
        "docs/cli.md is stale: the commands' help changed. Regenerate it with "
        "`python docs/make_cli_doc.py` and commit it."
    )


def test_every_docs_page_links_back_to_the_readme():
    for page in [*(REPO / "docs").glob("*.md"), REPO / "checkpoints" / "README.md"]:
        assert "](../README.md)" in page.read_text(), page


def test_ci_runs_exactly_the_readme_test_command():
    readme = [
        line for _, _, lines in code_blocks((REPO / "README.md").read_text()) for line in lines
    ]
    [command] = [line for line in readme if line.endswith("python -m pytest")]
    assert command in (REPO / ".ci" / "run").read_text().splitlines()
