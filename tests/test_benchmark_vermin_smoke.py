"""`python -m benchmarks.vermin_syntax` on a few generated files: every construct of the syntax
table gets ARV103's and vermin's answers, and the lines of real-looking files are compared."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from asyncreview.catalogue import load_table

REPO = Path(__file__).resolve().parent.parent

WALRUS = textwrap.dedent(
    """
    import asyncio


    async def drain(queue):
        while (item := await queue.get()) is not None:
            print(item)


    def first(values, /):
        return values[0]
    """
)


def test_vermin_benchmark_compares_constructs_and_lines(tmp_path):
    corpus = tmp_path / "corpus" / "pkg"
    corpus.mkdir(parents=True)
    (corpus / "walrus.py").write_text(WALRUS, encoding="utf-8")
    (corpus / "plain.py").write_text("def f(x):\n    return x\n", encoding="utf-8")
    (corpus / "newer.py").write_text("type Alias = int\n", encoding="utf-8")
    out = tmp_path / "vermin.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.vermin_syntax", "--corpus", str(corpus.parent), "--json-out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    constructs = {row["construct"]: row for row in report["constructs"]}
    assert len(constructs) == len(load_table("compat", "syntax"))
    assert all(row["arv103"] == row["table"] for row in constructs.values())
    assert constructs["match-statement"]["vermin"] == "3.10"
    real = report["real_files"]
    assert real["files"] == 3
    assert real["same_line"]["assignment-expression (3.8) = named expressions (3.8)"] == 1
    assert real["same_line"]["positional-only-parameters (3.8) = positional-only parameters (3.8)"] == 1
    if sys.version_info < (3, 12):  # vermin reads files with the running Python's ast
        assert real["vermin_cannot_parse"] == ["pkg/newer.py"]
        assert len(real["same_line"]) == 2 and real["arv103_only"] == {} and real["vermin_only"] == {}
    assert "construct" in completed.stdout and f"ARV103 gives the table's version for {len(constructs)}/{len(constructs)}" in completed.stdout
