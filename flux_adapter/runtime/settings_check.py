"""Checking the environment as a whole: every problem named at once, then exit 2.

Each variable is validated on its own by `Settings`; the rules here join
variables (or a variable and the mode the process runs in), and run on the
valid ones even when others failed, so one run names every problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from flux_adapter.runtime.settings import Settings

EXIT_CONFIG = 2


class ConfigError(Exception):
    """Every problem found in the environment, one line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True, slots=True)
class Problem:
    """One line for the operator, and the variables it is about."""

    variables: tuple[str, ...]
    line: str


def _cross_checks(settings: Settings, dry_run: bool) -> list[Problem]:
    """Rules that join variables, or a variable and the mode the process runs in."""
    problems: list[Problem] = []
    url = settings.flow_server_url
    if not dry_run and url is None:
        problems.append(
            Problem(("flow_server_url",), "FLOW_SERVER_URL: required (or run with --dry-run)")
        )
    if url is not None and settings.flow_server_token_file is not None:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            problems.append(
                Problem(
                    ("flow_server_url", "flow_server_token_file"),
                    "FLOW_SERVER_URL: carries credentials while FLOW_SERVER_TOKEN_FILE is set; "
                    "use one",
                )
            )
    if settings.leader_election and not dry_run:
        lease, renew, retry = (
            settings.lease_duration,
            settings.lease_renew_deadline,
            settings.lease_retry_period,
        )
        for name, value in (
            ("lease_duration", lease),
            ("lease_renew_deadline", renew),
            ("lease_retry_period", retry),
        ):
            if value < 1:
                problems.append(
                    Problem(
                        (name,),
                        f"{name.upper()}: must be at least 1s for leader election, got {value:g}s",
                    )
                )
        if lease <= renew:
            problems.append(
                Problem(
                    ("lease_duration", "lease_renew_deadline"),
                    "LEASE_DURATION: must be longer than LEASE_RENEW_DEADLINE "
                    f"({lease:g}s <= {renew:g}s)",
                )
            )
        if renew <= 1.2 * retry:
            problems.append(
                Problem(
                    ("lease_renew_deadline", "lease_retry_period"),
                    "LEASE_RENEW_DEADLINE: must be longer than 1.2 x LEASE_RETRY_PERIOD "
                    f"({renew:g}s <= {1.2 * retry:g}s)",
                )
            )
    return problems


def _describe(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "environment"
        message = item["msg"]
        if item["type"] == "missing":
            message = "required"
        message = message.removeprefix("Value error, ")
        problems.append(Problem((field,), f"{field.upper()}: {message}"))
    return problems


STAND_IN = "-"
"""Put in place of a required variable that failed, so the rules joining the others still run."""


def _stand_in_settings(invalid: set[str]) -> Settings | None:
    """Settings with each invalid variable replaced by its default (or `STAND_IN`)."""
    replaced: dict[str, Any] = {}
    for name in invalid:
        field = Settings.model_fields.get(name)
        if field is None:
            return None
        replaced[name] = (
            STAND_IN if field.is_required() else field.get_default(call_default_factory=True)
        )
    try:
        return Settings(**replaced)
    except ValidationError:
        return None


def _in_field_order(problems: list[Problem]) -> list[str]:
    order = {name: index for index, name in enumerate(Settings.model_fields)}
    ranked = sorted(problems, key=lambda p: min(order.get(v, len(order)) for v in p.variables))
    return [problem.line for problem in ranked]


def load_settings(dry_run: bool = False) -> Settings:
    """Read and check the environment; raise ConfigError listing every problem.

    Each variable is checked on its own first; the rules that join variables
    then run on the valid ones, so one run names every problem.
    """
    try:
        settings = Settings()
    except ValidationError as err:
        problems = _describe(err)
        invalid = {variable for problem in problems for variable in problem.variables}
        stand_in = _stand_in_settings(invalid)
        if stand_in is not None:
            problems += [
                problem
                for problem in _cross_checks(stand_in, dry_run)
                if invalid.isdisjoint(problem.variables)
            ]
        raise ConfigError(_in_field_order(problems)) from None
    problems = _cross_checks(settings, dry_run)
    if problems:
        raise ConfigError(_in_field_order(problems))
    return settings
