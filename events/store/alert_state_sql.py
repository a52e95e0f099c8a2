"""SQL of the `alert_state` table (versioned lifecycle rows beside the immutable events).

(Being written: the lifecycle helper owns this module. `state_filter_sql` is the one function the
history query builder calls.)
"""

from __future__ import annotations

from collections.abc import Sequence

from events.store.sql import Binder

ALERT_STATE_TABLE = "alert_state"


def state_filter_sql(database: str, statuses: Sequence[str], assignee: str | None, bind: Binder) -> str:
    """A condition on `event_id` (to AND into a WHERE over `events`): the event's latest state has one
    of `statuses` ("new" = no state row yet) and, when given, is assigned to `assignee`."""
    raise NotImplementedError("alert_state_sql.state_filter_sql is being written")
