"""Bus implementations of events.ports' EventPublisher / EventConsumer: in-process and Kafka."""
