"""AddTags, ListTags and DeleteTags: the tags of the API's resources, by ARN, kept in its state; a Create's own
Tags are kept the same way."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ml_lifecycle.api_server.errors import validation
from ml_lifecycle.api_server.state import ApiState

TAGS = "tags"
MAX_TAGS = 50


def _key(arn: str) -> str:
    """Return the state name of an ARN's tags.

    :param arn: the resource's ARN.
    """
    return hashlib.sha256(arn.encode()).hexdigest()[:32]


class TagsApi:
    """The tag operations.

    :param state: the API's stored resources.
    """

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def _arn(self, request: Mapping[str, Any]) -> str:
        """Return the request's ResourceArn.

        :param request: the request.
        """
        arn = request.get("ResourceArn")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise validation(f"ResourceArn {arn!r} is not an ARN")
        return arn

    def _tags(self, arn: str) -> dict[str, str]:
        """Return an ARN's tags.

        :param arn: the resource's ARN.
        """
        document = self.state.get(TAGS, _key(arn))
        return dict(document["tags"]) if document else {}

    def check(self, tags: Any) -> None:
        """Refuse a Create's tags before anything is created: a list of at most MAX_TAGS {Key, Value}.

        :param tags: the request's Tags.
        """
        if tags is None:
            return
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            raise validation(f"Tags must be a list of at most {MAX_TAGS} tags")
        for tag in tags:
            if not isinstance(tag, Mapping) or not tag.get("Key"):
                raise validation(f"Tag {tag!r} has no Key")

    def forget(self, arn: str) -> None:
        """Remove a deleted resource's tags (a new resource of the same name starts without them).

        :param arn: the resource's ARN.
        """
        self.state.delete(TAGS, _key(arn))

    def add(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Add (or replace) tags.

        :param request: the AddTags request.
        """
        arn = self._arn(request)
        tags = self._tags(arn)
        for tag in request.get("Tags") or []:
            if not isinstance(tag, Mapping) or not tag.get("Key"):
                raise validation(f"Tag {tag!r} has no Key")
            tags[str(tag["Key"])] = str(tag.get("Value", ""))
        if len(tags) > MAX_TAGS:
            raise validation(f"{arn} would have {len(tags)} tags; at most {MAX_TAGS} are allowed")
        self.state.put(TAGS, _key(arn), {"arn": arn, "tags": tags})
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def list(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """List an ARN's tags.

        :param request: the ListTags request.
        """
        tags = self._tags(self._arn(request))
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    def delete(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Remove tags by key.

        :param request: the DeleteTags request.
        """
        arn = self._arn(request)
        keys = set(request.get("TagKeys") or [])
        tags = {k: v for k, v in self._tags(arn).items() if k not in keys}
        self.state.put(TAGS, _key(arn), {"arn": arn, "tags": tags})
        return {}
