"""What of an event the API serves: everything but biometric encodings (kept in the store, where "not
this person" reads them, never sent to a client)."""

from __future__ import annotations

from events.schema import Event, EventAttributes

#: Attributes kept in the store (for "not this person") but never served: biometric encodings.
BIOMETRIC_ATTRIBUTES = frozenset({"face_embedding"})


def public_event(event: Event) -> Event:
    """The event as the API serves it: without biometric attributes (the same event when it has none)."""
    attributes = event.attributes
    if event.type != "face_match" and not (attributes.model_extra or {}).keys() & BIOMETRIC_ATTRIBUTES:
        return event
    kept = {k: v for k, v in attributes.model_dump(mode="json").items() if k not in BIOMETRIC_ATTRIBUTES}
    return event.model_copy(update={"attributes": EventAttributes.model_validate(kept)})
