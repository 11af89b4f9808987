"""The defaults every part shares: where the local stack's services answer and what the topic
and database are called. Each part's settings read the environment and fall back to these."""

KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
"""The local stack's Kafka broker (``KAFKA_BOOTSTRAP_SERVERS``)."""
EVENTS_TOPIC = "training.events"
"""The topic of the training events (``JOULESTREAM_TOPIC``)."""
GRID_TOPIC = "grid.intensity"
"""The topic of the zones' grid intensity series (``JOULESTREAM_GRID_TOPIC``)."""
MONGODB_URI = "mongodb://127.0.0.1:27017/"
"""The local stack's MongoDB-compatible server, without credentials (``MONGODB_URI``)."""
MONGODB_DATABASE = "joulestream"
"""The database of the job's documents (``MONGODB_DATABASE``)."""
