"""The flow server's wire types, as `docs/contract.md` ("Envelopes") defines them.

The server validates almost nothing (only that a variant's list is non-empty),
so these models are the one place where a wrong node is refused before it can
reach a canvas. They serialise to exactly the contract's JSON: camelCase
names, absent optionals omitted, timestamps as integer milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

Status = Literal["pending", "running", "succeeded", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "running", "succeeded", "failed")

RelType = Literal[
    "contains",
    "finish-to-start",
    "start-to-start",
    "finish-to-finish",
    "start-to-finish",
    "triggers",
]
RelCondition = Literal["on-success", "on-failure", "always"]

NonEmpty = Annotated[str, Field(min_length=1)]
Millis = Annotated[int, Field(ge=0)]

RelKey = tuple[str, str, str]
"""How the server merges relationships: (fromId, toId, type)."""


class WireModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
    )

    _field_sets: ClassVar[dict[frozenset[str], set[str]]] = {}

    def model_post_init(self, context: Any, /) -> None:
        """Share one set of "fields set" among every model that set the same fields.

        Pydantic gives each instance its own set (about 700 bytes for a
        node); the graph of ten thousand releases holds thirty thousand
        models, and their sets were a fifth of its memory. The models are
        frozen, so pydantic never adds to the set in place, and a copy gets
        its own. The memo holds at most one set per combination of fields.
        """
        mine = self.__pydantic_fields_set__
        shared = WireModel._field_sets.setdefault(frozenset(mine), mine)
        if shared is not mine:
            object.__setattr__(self, "__pydantic_fields_set__", shared)

    def wire(self) -> bytes:
        """The exact bytes this model contributes to an envelope's body."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)


class FlowNode(WireModel):
    id: NonEmpty
    flow_id: NonEmpty
    label: NonEmpty
    status: Status
    family: str | None = None
    region: str | None = None
    started_at: Millis | None = None
    ended_at: Millis | None = None
    meta: dict[str, JsonValue] | None = None


class RelPair(WireModel):
    from_id: NonEmpty
    to_id: NonEmpty
    type: RelType

    @property
    def key(self) -> RelKey:
        return (self.from_id, self.to_id, self.type)


class Relationship(WireModel):
    from_id: NonEmpty
    to_id: NonEmpty
    type: RelType
    from_flow_id: NonEmpty | None = None
    to_flow_id: NonEmpty | None = None
    condition: RelCondition | None = None
    lag: int | None = None

    @property
    def key(self) -> RelKey:
        return (self.from_id, self.to_id, self.type)

    def pair(self) -> RelPair:
        return RelPair(from_id=self.from_id, to_id=self.to_id, type=self.type)


class Trigger(WireModel):
    flow_id: NonEmpty
    when: NonEmpty


class FlowInstance(WireModel):
    id: NonEmpty
    status: NonEmpty
    started_at: Millis
    definition_id: str | None = None
    parent_flow_id: str | None = None
    triggered_by: list[Trigger] | None = None
    ended_at: Millis | None = None
    meta: dict[str, JsonValue] | None = None


class UpsertNodes(WireModel):
    type: Literal["upsert-nodes"] = "upsert-nodes"
    nodes: Annotated[list[FlowNode], Field(min_length=1)]


class UpsertRels(WireModel):
    type: Literal["upsert-rels"] = "upsert-rels"
    relationships: Annotated[list[Relationship], Field(min_length=1)]


class DeleteRels(WireModel):
    type: Literal["delete-rels"] = "delete-rels"
    pairs: Annotated[list[RelPair], Field(min_length=1)]


class DeleteNodes(WireModel):
    type: Literal["delete-nodes"] = "delete-nodes"
    ids: Annotated[list[NonEmpty], Field(min_length=1)]


class UpsertFlow(WireModel):
    type: Literal["upsert-flow"] = "upsert-flow"
    flow: FlowInstance


Envelope = Annotated[
    UpsertNodes | UpsertRels | DeleteRels | DeleteNodes | UpsertFlow,
    Field(discriminator="type"),
]

Outbound = UpsertNodes | UpsertRels | DeleteRels | DeleteNodes | UpsertFlow
"""The envelopes an adapter may send (everything but `snapshot`)."""
