"""The layout is a contract: stages layered, no cycles between siblings, mapper pure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("flux_adapter", "mapper")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_the_import_contracts_hold() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("flux_adapter/informer/store.py", "import flux_adapter.emit.emitter", "informer"),
        ("flux_adapter/observe/metrics.py", "import flux_adapter.kube.client", "observe"),
        ("mapper/graph.py", "import flux_adapter.observe.metrics", "mapper is pure"),
    ],
    ids=["a-stage-imports-a-sibling-stage", "a-lower-layer-imports-a-higher", "mapper-does-io"],
)
def test_a_deliberate_violation_breaks_the_contracts(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    for name in (*PACKAGES, "pyproject.toml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{statement}  # noqa\n")
    done = lint_imports(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert "BROKEN" in done.stdout
    assert broken in done.stdout
