"""README.md and docs/*.md, without a stack: the README stays a front page, every relative link
leads somewhere, and the blocks the docs test runs are found.

A fenced block whose info string is ``sh runnable`` is meant to be run as written;
tests/integration/test_docs_commands.py runs each on the test stack (docs/tests.md); the
extractor is tests/docblocks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docblocks import README, ROOT, doc_files, fenced_blocks, runnable_blocks

_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")

MAX_README_LINES = 250
# The blocks marked runnable when the docs test was written: one fewer means a marker was lost.
MIN_RUNNABLE = 8


def _prose(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced blocks, with code spans blanked (a link there is an example, not a link)."""
    inside = {n for b in fenced_blocks(path) for n in range(b.line, b.end + 1)}
    return [(n, _CODE_SPAN.sub("", line)) for n, line in enumerate(path.read_text().splitlines(), 1)
            if n not in inside]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for _, line in _prose(path):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"[^\w\- ]", "", heading[1].lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def relative_links(path: Path) -> list[tuple[int, str]]:
    links = []
    for n, line in _prose(path):
        for match in _LINK.finditer(line):
            target = match["target"].strip("<>")
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
                links.append((n, target))
    return links


def test_the_readme_is_a_front_page():
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move sections into docs/"


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(path):
    broken = []
    for line, target in relative_links(path):
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            broken.append(f"{path.relative_to(ROOT)}:{line}: {target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
            broken.append(f"{path.relative_to(ROOT)}:{line}: {target}: no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_runnable_blocks_are_found():
    blocks = runnable_blocks()
    assert len(blocks) >= MIN_RUNNABLE, [b.where for b in blocks]
    assert all(b.text.strip() for b in blocks), [b.where for b in blocks if not b.text.strip()]


def test_the_extractor_reads_fences_as_commonmark_does(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n"
        "```sh runnable\n"
        "echo one\n"
        "```\n"
        "- an item:\n"
        "  ```sh runnable\n"
        "  echo two \\\n"
        "      continued\n"
        "  ```\n"
        "````markdown\n"
        "```sh runnable\n"
        "echo shown, not run\n"
        "```\n"
        "````\n"
        "```sh\n"
        "echo not marked\n"
        "```\n"
    )
    found = runnable_blocks([page])
    assert [(b.line, b.text) for b in found] == [(2, "echo one\n"), (6, "echo two \\\n    continued\n")]
    assert [b.info for b in fenced_blocks(page)] == ["sh runnable", "sh runnable", "markdown", "sh"]


def test_the_readme_names_every_udf_option_once_with_its_default():
    from udfs import options_table
    from udfs.registry import UDFS

    assert options_table.in_readme(README.read_text()) == options_table.render(), \
        "run python -m udfs.options_table"
    named = [line.split("`")[1] for line in options_table.render().splitlines()[2:]]
    declared = {o.name for udf in UDFS for o in udf.handler_class().options}
    assert sorted(named) == sorted(declared)  # each once, none missing, none extra
