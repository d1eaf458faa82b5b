"""The fenced code blocks of README.md and docs/*.md, and the ones marked to be run (``sh runnable``).

tests/unit/test_docs.py checks the extractor without a stack;
tests/integration/test_docs_commands.py runs each runnable block on the test stack (docs/tests.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE = ("sh", "runnable")

# CommonMark: a fence is three or more backticks or tildes, indented by at most three spaces
# outside a list; blocks inside list items are indented further, so any indentation is accepted.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def doc_files() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, from 1
    end: int  # of the closing fence (or the file's last line)
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, its lines dedented by its fence's indentation."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            # A fence closes only with the same character, at least as long, and no info string:
            # so a ```` block can show a ``` block without the inner one being taken for a block.
            if (closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence)
                    and not closing["info"].strip()):
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j].lstrip())
            j += 1
        blocks.append(Block(path, i + 1, min(j + 1, len(lines)), opening["info"].strip(), "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def runnable_blocks(paths: list[Path] | None = None) -> list[Block]:
    return [b for p in (paths or doc_files()) for b in fenced_blocks(p) if tuple(b.info.split()) == RUNNABLE]
