"""The user docs: short enough to read, and every script they tell a user to run is in the repository."""

import re
import subprocess

import pytest

DOCS = ["README.md", "recipes/ESC50/interpret/README.md", "pretrained/README.md", "docs/experiments.md"]
SCRIPT = re.compile(r"(?:python3?|bash)\s+((?:\.\./)?[\w./-]+\.(?:py|sh))\b")


def tracked(repo_root):
    out = subprocess.run(["git", "ls-files"], cwd=repo_root, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return set(out.stdout.split())


@pytest.mark.parametrize("doc", DOCS)
def test_every_cited_script_is_tracked(repo_root, doc):
    files = tracked(repo_root)
    text = (repo_root / doc).read_text(encoding="utf-8")
    cited = {m.group(1) for m in SCRIPT.finditer(text) if not m.group(1).startswith("../")}
    missing = sorted(path for path in cited if path not in files)
    assert not missing, f"{doc} cites scripts that git does not track: {missing}"


def test_the_recipe_readme_stays_short(repo_root):
    n = len((repo_root / "recipes/ESC50/interpret/README.md").read_text(encoding="utf-8").splitlines())
    assert n <= 300, (
        f"recipes/ESC50/interpret/README.md has {n} lines (at most 300: history goes to docs/experiments.md)"
    )
