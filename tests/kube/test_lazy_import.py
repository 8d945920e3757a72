"""The library is imported without its generated modules, and still works as shipped."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from flux_adapter.kube.lazy_import import PINNED, installed_version


def run_fresh(code: str) -> dict[str, object]:
    """Run `code` in a new interpreter (imports are process-wide) and read the JSON it prints."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_installed_library_is_the_pinned_release() -> None:
    assert installed_version() == PINNED


def test_the_adapters_client_loads_no_generated_model_or_api_module() -> None:
    loaded = run_fresh(
        """
        import json, sys
        import flux_adapter.kube.connect
        names = [m for m in sys.modules if m.startswith("kubernetes_asyncio")]
        print(json.dumps({
            "models": [m for m in names if m.startswith("kubernetes_asyncio.client.models.")],
            "apis": [m for m in names if m.startswith("kubernetes_asyncio.client.api.")],
            "count": len(names),
        }))
        """
    )
    assert loaded["models"] == []
    assert loaded["apis"] == []
    assert isinstance(loaded["count"], int)
    assert loaded["count"] < 40


def test_a_generated_name_still_resolves_on_first_use() -> None:
    loaded = run_fresh(
        """
        import json, sys
        import flux_adapter.kube.connect
        from kubernetes_asyncio.client import V1Lease, CoordinationV1Api
        from kubernetes_asyncio import client
        print(json.dumps({
            "lease": V1Lease(spec=None).to_dict(),
            "api": CoordinationV1Api.__name__,
            "unused_loaded": "kubernetes_asyncio.client.models.v1_pod" in sys.modules,
            "same": client.V1Lease is V1Lease,
        }))
        """
    )
    assert loaded == {
        "lease": {
            "api_version": None,
            "kind": None,
            "metadata": None,
            "spec": None,
        },
        "api": "CoordinationV1Api",
        "unused_loaded": False,
        "same": True,
    }
