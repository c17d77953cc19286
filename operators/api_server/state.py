"""What the API has been asked to create, kept in the artifact store: one JSON document per resource.

The server keeps nothing in memory that a restart would lose: a job's request and what it was started with are
stored before it launches, its progress is its own record (written by its agent), so any server process, or the
next one, describes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ml_lifecycle.core.uris import ArtifactUri, parse_uri
from ml_lifecycle.errors import ArtifactExists
from ml_lifecycle.stores.base import ArtifactStore

DOCUMENT = "resource.json"
SAFE_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # what SageMaker's names (and our digests) are: never a path


class ApiState:
    """The stored resources of one API, by kind (``training-jobs``, ``models``...) and name.

    :param root: the URI under which the documents live (``file://...`` or ``s3://...``).
    :param store_for: returns the store of a URI.
    """

    def __init__(self, root: str, store_for: Callable[[ArtifactUri], ArtifactStore]) -> None:
        self.root = parse_uri(root.rstrip("/"), "the API's state root")
        self.store = store_for(self.root)

    def _uri(self, kind: str, name: str, part: str = DOCUMENT) -> ArtifactUri:
        """Return where a resource's document (or another of its parts) is.

        :param kind: the kind of resource.
        :param name: its name.
        :param part: the document's path below the resource's folder (``/``-separated safe names).
        """
        return self.root.join(kind, _safe(name), *(_safe_file(p) for p in part.split("/")))

    def get(self, kind: str, name: str, part: str = DOCUMENT) -> dict[str, Any] | None:
        """Return a resource's document, or None when there is none.

        :param kind: the kind of resource.
        :param name: its name.
        :param part: another document of the resource than its own (``resource.json``).
        """
        uri = self._uri(kind, name, part)
        if not self.store.exists(uri):
            return None
        return dict(json.loads(self.store.read_bytes(uri)))

    def create(self, kind: str, name: str, document: dict[str, Any], part: str = DOCUMENT) -> bool:
        """Store a new resource's document; False when the name is taken (the document is then left as it was).
        The store's conditional create (S3's If-None-Match) decides between rivals, so exactly one of them wins.

        :param kind: the kind of resource.
        :param name: its name.
        :param document: what to keep.
        :param part: another document of the resource than its own (``resource.json``).
        """
        data = json.dumps(document, sort_keys=True).encode()
        try:
            self.store.write_bytes(self._uri(kind, name, part), data, if_absent=True)
        except ArtifactExists:
            return False
        return True

    def put(self, kind: str, name: str, document: dict[str, Any], part: str = DOCUMENT) -> None:
        """Replace a resource's document.

        :param kind: the kind of resource.
        :param name: its name.
        :param document: what to keep.
        :param part: another document of the resource than its own (``resource.json``).
        """
        self.store.write_bytes(self._uri(kind, name, part), json.dumps(document, sort_keys=True).encode())

    def parts(self, kind: str, name: str, folder: str) -> list[str]:
        """Return the names of a resource's documents in one of its folders (``claims``...), sorted.

        :param kind: the kind of resource.
        :param name: its name.
        :param folder: the folder below the resource's.
        """
        objects = self.store.list_objects(self.root.join(kind, _safe(name), _safe(folder)))
        return sorted(o.relative_key for o in objects if "/" not in o.relative_key)

    def delete(self, kind: str, name: str) -> None:
        """Forget a resource.

        :param kind: the kind of resource.
        :param name: its name.
        """
        self.store.delete_prefix(self.root.join(kind, _safe(name)))

    def names(self, kind: str) -> list[str]:
        """Return the names of a kind's resources, sorted.

        :param kind: the kind of resource.
        """
        suffix = "/" + DOCUMENT
        objects = self.store.list_objects(self.root.join(kind))
        return sorted(o.relative_key[: -len(suffix)] for o in objects if o.relative_key.endswith(suffix))


def _safe_file(name: str) -> str:
    """Return a document's file name (a safe name, ``.json`` kept), or raise.

    :param name: the file name.
    """
    stem = name.removesuffix(".json")
    return _safe(stem) + name[len(stem) :]


def _safe(name: str) -> str:
    """Return a name that is safe as one path segment, or raise.

    :param name: the name.
    """
    if not SAFE_NAME.match(name):
        raise ValueError(f"{name!r} is not a resource name (letters, digits and hyphens)")
    return name
