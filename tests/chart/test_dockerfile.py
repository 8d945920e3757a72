"""The container image: linted, its build replayed from the Dockerfile's own commands,
and agreeing with the project and the chart."""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from flux_adapter.runtime.settings import Settings, parse_listen_addr
from tests.chart.dockerfile import (
    DOCKERFILE,
    Built,
    Stage,
    build_context,
    dockerfile,
    entrypoint,
    pairs,
    python_minor,
    replay,
    this_python,
)
from tests.chart.rendering import ROOT, chart, daemonset

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def final() -> Stage:
    return dockerfile()[-1]


def pip_commands() -> list[str]:
    """Every pip invocation in any RUN, split at && and ;."""
    commands = []
    for stage in dockerfile():
        for ins in stage.all("RUN"):
            for part in re.split(r"&&|;", ins.rest):
                if re.search(r"(^|/)pip\s", part.strip()):
                    commands.append(part.strip())
    return commands


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    scratch = tmp_path_factory.mktemp("image")
    context = build_context(scratch / "context")
    return replay(dockerfile(), context, scratch)


def test_hadolint_finds_nothing_at_warning_level_or_above() -> None:
    hadolint = Path(sysconfig.get_path("scripts")) / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_replayed_image_runs_flux_adapter_from_its_entrypoint(built: Built) -> None:
    command = entrypoint(final())
    assert command == ["flux-adapter"]
    executable = shutil.which(command[0], path=built.env["PATH"])
    assert executable is not None
    assert Path(executable).is_relative_to(built.root)
    done = subprocess.run(
        [executable, *command[1:], "--version"],
        env=built.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"flux-adapter {PROJECT['version']}"


def test_the_replayed_image_holds_only_the_virtual_environment(built: Built) -> None:
    left = sorted(str(p.relative_to(built.root)) for p in built.root.rglob("*") if p.is_dir())
    assert [d for d in left if "/" not in d] == ["opt"]
    assert (built.root / "opt" / "venv" / "bin" / "python").exists()
    assert not list(built.root.rglob("*.whl"))
    assert not [d for d in left if d.endswith(("/.cache", "/src"))]


def test_the_entrypoint_is_the_projects_console_script() -> None:
    assert entrypoint(final())[0] in PROJECT["scripts"]


def test_every_pip_command_keeps_no_cache() -> None:
    commands = pip_commands()
    assert len(commands) == 2
    assert all("--no-cache-dir" in command for command in commands)


def test_the_final_stage_installs_offline_from_the_builders_wheels() -> None:
    [install] = [c for c in pip_commands() if " install " in c]
    assert "--no-index" in install
    [run] = final().all("RUN")
    assert any("from=builder" in flag for flag in run.flags)


def test_every_stage_starts_from_the_slim_python_the_project_targets() -> None:
    bases = {stage.base for stage in dockerfile()}
    assert len(bases) == 1
    [base] = bases
    assert "-slim" in base
    assert PROJECT["requires-python"] == ">={}.{}".format(*python_minor(base))


def test_the_replay_runs_the_same_python_as_the_image() -> None:
    assert this_python() == python_minor(final().base)


def test_the_image_runs_as_the_user_the_chart_runs_it_as() -> None:
    security = daemonset()["spec"]["template"]["spec"]["securityContext"]
    assert final().one("USER").rest == f"{security['runAsUser']}:{security['runAsGroup']}"


def test_the_image_exposes_the_adapters_default_health_port() -> None:
    default = parse_listen_addr(str(Settings.model_fields["health_listen_addr"].default))
    assert final().one("EXPOSE").rest == str(default.port)


def test_the_image_writes_its_output_unbuffered() -> None:
    assert final().variables()["PYTHONUNBUFFERED"] == "1"


def test_the_image_is_labelled_with_the_project_version_and_its_source() -> None:
    labels = pairs(final().one("LABEL"), final().variables())
    assert labels["org.opencontainers.image.version"] == PROJECT["version"]
    assert labels["org.opencontainers.image.version"] == chart().metadata["appVersion"]
    assert urlsplit(labels["org.opencontainers.image.source"]).scheme == "https"


def test_the_build_context_holds_only_what_the_image_is_built_from(tmp_path: Path) -> None:
    context = build_context(tmp_path)
    assert sorted(p.name for p in context.iterdir()) == [
        "README.md",
        "flux_adapter",
        "mapper",
        "pyproject.toml",
    ]
