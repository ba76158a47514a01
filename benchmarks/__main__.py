"""Run every benchmark module and write its section of docs/benchmarks.md.

Each module in this package exposes `SECTION` (its marker name) and `run() -> str` (a Markdown
section). Several people write to docs/benchmarks.md, so each module replaces only the block
between its own markers `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
from pathlib import Path

import benchmarks

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nWritten by `make bench` (`python -m benchmarks`); one section per benchmark module.\n"


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="run only these modules (default: all)")
    args = parser.parse_args()
    names = [m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_")]
    for name in names:
        if args.only and name not in args.only:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        section = module.run()
        DOC.parent.mkdir(parents=True, exist_ok=True)
        text = DOC.read_text("utf-8") if DOC.exists() else HEADER
        DOC.write_text(replace_section(text, module.SECTION, section), encoding="utf-8")
        print(f"docs/benchmarks.md: section {module.SECTION} updated")


if __name__ == "__main__":
    main()
