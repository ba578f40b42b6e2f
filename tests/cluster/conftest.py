"""Every test here runs against the session's real control plane (kube-apiserver, etcd,
kube-controller-manager): marked `controlplane`, so `-m "not controlplane"` leaves them out."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.controlplane)
