"""The defaults every part shares: where the local stack's services answer and what the topic
and database are called. Each part's settings read the environment and fall back to these."""

KAFKA_PORT = 9092
"""The port the local stack's Kafka broker listens on (``JOULESTREAM_KAFKA_PORT``)."""
KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{KAFKA_PORT}"
"""The local stack's Kafka broker (``KAFKA_BOOTSTRAP_SERVERS``)."""
EVENTS_TOPIC = "training.events"
"""The topic of the training events (``JOULESTREAM_TOPIC``)."""
GRID_TOPIC = "grid.intensity"
"""The topic of the zones' grid intensity series (``JOULESTREAM_GRID_TOPIC``)."""
MONGO_PORT = 27017
"""The port the local stack's MongoDB-compatible server listens on (``JOULESTREAM_MONGO_PORT``)."""
MONGODB_URI = f"mongodb://127.0.0.1:{MONGO_PORT}/"
"""The local stack's MongoDB-compatible server, without credentials (``MONGODB_URI``)."""
MONGODB_DATABASE = "joulestream"
"""The database of the job's documents (``MONGODB_DATABASE``)."""
