"""The Dockerfile read as data, and its build replayed without a Docker engine.

The replay runs the Dockerfile's own RUN commands with /bin/sh, each stage in
its own scratch directory standing for the image's root: absolute paths in the
commands and in ENV values are moved under that directory, COPY copies from a
build context filtered by .dockerignore, and a `RUN --mount=type=bind,from=...`
sees the other stage's files for that one command only. A fresh virtual
environment of this interpreter stands for the base image's Python.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tests.chart.rendering import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH in the python base images; their python and pip live in /usr/local/bin."""

PASSED_THROUGH = re.compile(r"^(PIP_.*|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_.*|TMPDIR)$", re.IGNORECASE)
"""Host settings this machine needs to reach a package index; the image build has its own."""


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    flags: tuple[str, ...]
    rest: str

    def words(self) -> list[str]:
        return shlex.split(self.rest)


@dataclass(slots=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword} in stage {self.name}, found {len(found)}"
        return found[0]

    def variables(self) -> dict[str, str]:
        """ARG defaults and ENV values of the stage, as set by its last mention."""
        values: dict[str, str] = {}
        for ins in self.instructions:
            if ins.keyword == "ARG":
                name, _, default = ins.rest.partition("=")
                values[name.strip()] = default.strip()
            elif ins.keyword == "ENV":
                values.update(pairs(ins, values))
        return values


def logical_lines(text: str) -> list[str]:
    """Comment lines dropped and backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line:
            lines.append(line)
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def parse(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: list[str] = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        assert stages, f"{keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, tuple(flags), rest))
    return stages


def dockerfile() -> list[Stage]:
    return parse(DOCKERFILE.read_text())


def expand(text: str, variables: dict[str, str]) -> str:
    """$NAME and ${NAME} replaced as Docker does in ENV and LABEL values."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: variables.get(m.group(1) or m.group(2), ""),
        text,
    )


def pairs(ins: Instruction, variables: dict[str, str]) -> dict[str, str]:
    """KEY=VALUE pairs of an ENV or LABEL, variables expanded."""
    out: dict[str, str] = {}
    for word in ins.words():
        key, sep, value = word.partition("=")
        assert sep, f"{ins.keyword} {ins.rest!r}: use the KEY=VALUE form"
        out[key] = expand(value, {**variables, **out})
    return out


def flag_options(flag: str) -> dict[str, str]:
    """`--mount=type=bind,from=builder` as {"type": "bind", "from": "builder"}."""
    _, _, options = flag.partition("=")
    return dict(option.split("=", 1) for option in options.split(","))


def ignored(path: PurePosixPath, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` (relative to the context) out; last match wins."""
    excluded = False
    candidates = [path, *path.parents][:-1]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(str(c), glob) for c in candidates):
            excluded = not negated
    return excluded


def build_context(destination: Path) -> Path:
    """The files `docker build .` would send: the checkout (git's view, untracked files
    included) minus what .dockerignore keeps out."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file() and not ignored(PurePosixPath(name), patterns):
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    return destination


def under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def moved(text: str, root: Path) -> str:
    """Every word that is an absolute path moved under `root`; URLs and the rest untouched."""
    return re.sub(r"(^|[\s\"'=])/(?=[\w.])", lambda m: f"{m.group(1)}{root}/", text)


def moved_path_list(value: str, root: Path) -> str:
    return ":".join(moved(item, root) for item in value.split(":"))


@dataclass(frozen=True, slots=True)
class Built:
    root: Path
    """The final stage's file system."""
    env: dict[str, str]
    """Its environment, paths moved under `root`."""


def replay(stages: list[Stage], context: Path, scratch: Path) -> Built:
    """Run every stage's instructions in order; return the last stage's result."""
    python = scratch / "base-python"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(python)
    host = {k: v for k, v in os.environ.items() if PASSED_THROUGH.match(k)}
    roots: dict[str, Path] = {}
    built: Built | None = None
    for index, stage in enumerate(stages):
        root = scratch / f"stage-{index}"
        root.mkdir()
        env = {"PATH": f"{python / 'bin'}:{BASE_PATH}", "HOME": str(under(root, "/root"))}
        args: dict[str, str] = {}
        workdir = "/"
        for ins in stage.instructions:
            if ins.keyword == "WORKDIR":
                workdir = str(PurePosixPath(workdir) / ins.rest)
                under(root, workdir).mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "ARG":
                name, _, default = ins.rest.partition("=")
                args[name.strip()] = default.strip()
            elif ins.keyword == "ENV":
                for key, value in pairs(ins, {**args, **env}).items():
                    env[key] = moved_path_list(value, root) if key == "PATH" else value
            elif ins.keyword == "COPY":
                assert not ins.flags, "COPY between stages is not replayed"
                *sources, target = ins.words()
                destination = under(root, str(PurePosixPath(workdir) / target))
                copy_in(context, sources, target, destination)
            elif ins.keyword == "RUN":
                run(ins, root, under(root, workdir), {**host, **args, **env}, roots)
        roots[stage.name or str(index)] = root
        built = Built(root=root, env=env)
    assert built is not None, "the Dockerfile has no stage"
    return built


def copy_in(context: Path, sources: list[str], target: str, destination: Path) -> None:
    """COPY's rules: a directory's contents go to the target; files go into it when the
    target ends in "/" or there are several sources, else they become it."""
    into_directory = target.endswith("/") or len(sources) > 1
    for source in sources:
        origin = context / source
        if origin.is_dir():
            shutil.copytree(origin, destination, dirs_exist_ok=True)
        else:
            path = destination / origin.name if into_directory else destination
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, path)


def run(
    ins: Instruction, root: Path, cwd: Path, env: dict[str, str], roots: dict[str, Path]
) -> None:
    """One RUN in shell form, with its bind mounts present for its duration only."""
    mounts: list[Path] = []
    for flag in ins.flags:
        assert flag.startswith("--mount="), f"unreplayed RUN flag {flag}"
        options = flag_options(flag)
        assert options["type"] == "bind", f"unreplayed mount {flag}"
        target = under(root, options["target"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(under(roots[options["from"]], options["source"]))
        mounts.append(target)
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", moved(ins.rest, root)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"RUN {ins.rest}\n{done.stdout}\n{done.stderr}"
    finally:
        for mount in mounts:
            mount.unlink()


def entrypoint(stage: Stage) -> list[str]:
    command: list[str] = json.loads(stage.one("ENTRYPOINT").rest)
    return command


def python_minor(base: str) -> tuple[int, int]:
    """(3, 11) for python:3.11-slim-bookworm."""
    match = re.fullmatch(r"python:(\d+)\.(\d+)[-.\w]*", base)
    assert match is not None, f"{base} is not a python:<major>.<minor> image"
    return int(match.group(1)), int(match.group(2))


def this_python() -> tuple[int, int]:
    return sys.version_info.major, sys.version_info.minor
