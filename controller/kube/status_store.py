"""Read a model fresh and write a pass's outcome to its status before the next pass may start.

kopf hands a handler the body from its watch cache, and writes the handler's patch only after the
handler has returned. A second reconcile of the same object that started in that gap (the timer, right
after an event handler released the object's lock) decided from a status without the first one's result,
and its patch then overwrote the first one's conditions: a model could show Ready=True next to
Validated=Unknown. So each reconcile reads the object itself and writes its status itself, all under the
object's lock; the next one always starts from what the last one wrote.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.api.models import GROUP, PLURAL, VERSION
from controller.api.reasons import ALWAYS_PRESENT, Reason
from controller.conditions import progress_updates, set_conditions
from controller.kube.client import OBJECT_TIMEOUT, api_client
from controller.reconcile import Outcome
from controller.settings import Settings


def status_patch(out: Outcome, current: dict[str, Any], generation: int | None) -> dict[str, Any]:
    """The merge patch for `.status`: the whole typed status (None removes a field), and the full
    condition list. `current` is the status the pass decided from; conditions it did not touch keep
    their values."""
    status = out.status.model_dump(by_alias=True, exclude={"conditions"}, mode="json")
    updates = dict(out.conditions)
    existing = {c.get("type") for c in (current.get("conditions") or []) if isinstance(c, dict)}
    for ctype in ALWAYS_PRESENT:
        if str(ctype) not in existing and str(ctype) not in updates:
            updates[str(ctype)] = ("Unknown", str(Reason.RECONCILING), "the operator is working on it")
    merged = set_conditions(current.get("conditions"), updates, generation)
    status["conditions"] = set_conditions(merged, progress_updates(merged, status.get("phase")), generation)
    return {"status": status}


def merge_patched(target: Any, patch: Any) -> Any:
    """`target` with a JSON merge patch (RFC 7386) applied, as the apiserver applies one; `target` is left
    as it was."""
    if not isinstance(patch, dict):
        return _pruned(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patched(out.get(key), value)
    return out


def _pruned(value: Any) -> Any:
    """What the apiserver stores of a value a merge patch writes whole (a list): no null fields, which the
    CRD's structural schema prunes (none is nullable). Kept, they made `superseded` entries differ from
    what was stored at every pass."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def changes_nothing(current: dict[str, Any], patch: dict[str, Any]) -> bool:
    """Whether writing this status patch would leave the status as it is: such a write is not sent. A
    waiting or running object's routine pass decides the same status poll after poll, and every one was a
    PATCH the apiserver decoded, admitted and compared (20 a second at 200 running jobs)."""
    return merge_patched(current, patch["status"]) == current


class ModelStatusStore:
    """Reads BedrockImportedModels (or, with `plural`, BedrockObservedModels) and patches their status."""

    def __init__(self, settings: Settings, plural: str = PLURAL) -> None:
        self._settings = settings
        self._plural = plural

    def _api(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(api_client(self._settings))

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as the API has it now (None once it is gone)."""
        try:
            return self._api().get_namespaced_custom_object(
                GROUP, VERSION, namespace, self._plural, name, _request_timeout=OBJECT_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def write(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        try:
            self._api().patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, self._plural, name, patch, _request_timeout=OBJECT_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: nothing left to report on
                raise

    def items(self, namespaces: list[str] | None) -> list[dict[str, Any]]:
        """Every object of the kind (in `namespaces`, or the cluster), as the API has it now."""
        api, out = self._api(), []
        for ns in namespaces or [None]:
            try:
                if ns is None:
                    listed = api.list_cluster_custom_object(GROUP, VERSION, self._plural)
                else:
                    listed = api.list_namespaced_custom_object(GROUP, VERSION, ns, self._plural)
            except ApiException as exc:
                if exc.status == 404:  # the kind's CRD is not installed (yet): there is none of it
                    return []
                raise
            out += list(listed.get("items", []))
        return out

    def names(self, namespaces: list[str] | None) -> list[tuple[str, str]]:
        """(namespace, name) of every object of the kind (in `namespaces`, or the cluster)."""
        return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in self.items(namespaces)]
