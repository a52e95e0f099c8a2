"""Store implementations of events.ports' EventStore: chDB (embedded) and a ClickHouse server."""
