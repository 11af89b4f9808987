"""One module per page: ``layout(route)`` builds it, ``register(app, db)`` adds its callbacks,
and ``view(db, …)`` computes what its callbacks show (called directly by tests and the bench)."""
