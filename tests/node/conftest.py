"""Every test here needs the local node (kubelet, containerd, runc; root) and the control plane: marked
`node` and `controlplane`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.controlplane)
            item.add_marker(pytest.mark.node)
