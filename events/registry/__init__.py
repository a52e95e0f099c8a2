"""The camera registry and worker health of the embedded mode: a JSON file in the data folder and an
in-process health view (the distributed ones live in events/bus/kafka_cameras.py)."""
