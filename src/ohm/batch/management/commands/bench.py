"""``ohm bench [NAME [ARGS...]]``: run a benchmark from ``<repo>/bench/NAME.py``.

Each benchmark module has ``main(argv) -> int`` and prints its figures as one JSON object
on its last line. With no name, list the benchmarks.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def bench_dir() -> Path:
    return Path(settings.BASE_DIR) / "bench"


def list_benchmarks() -> dict[str, str]:
    """Benchmark name -> first line of its docstring."""
    found = {}
    for path in sorted(bench_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem] = doc.strip().splitlines()[0] if doc.strip() else ""
    return found


def load_benchmark(name: str):
    path = bench_dir() / f"{name}.py"
    if not name.isidentifier() or not path.is_file():
        known = ", ".join(list_benchmarks()) or "none"
        raise CommandError(f"No benchmark “{name}” in {bench_dir()} (there are: {known}).")
    spec = importlib.util.spec_from_file_location(f"bench.{name}", path)
    if spec is None or spec.loader is None:
        raise CommandError(f"Cannot load benchmark “{name}” from {path}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Command(BaseCommand):
    help = "Run a benchmark from bench/ on the database DATABASE_URL names (no name: list them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="Benchmark to run, e.g. search.")
        parser.add_argument(
            "bench_args", nargs=argparse.REMAINDER, help="Options passed to the benchmark."
        )

    def handle(self, *args, **options):
        name = options["name"]
        if not name:
            self.stdout.write(
                "Benchmarks (run with: ohm bench NAME [options]; NAME --help for its options):"
            )
            for bench, summary in list_benchmarks().items():
                self.stdout.write(f"  {bench:<12} {summary}")
            return
        module = load_benchmark(name)
        status = module.main(
            list(options["bench_args"] or []), stdout=self.stdout, stderr=self.stderr
        )
        if status:
            raise CommandError(f"bench {name} failed (exit status {status}).", returncode=status)
