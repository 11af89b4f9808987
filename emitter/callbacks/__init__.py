"""Training-framework callbacks that drive a ``Tracker``: Lightning, Transformers, Keras.

Each adapter module imports its framework when it is imported (the extras ``lightning``,
``transformers``, ``keras``); nothing else in ``emitter`` imports them. The logic they share,
and that the tests drive without any framework, is ``core.TrackerCallbackCore``.
"""
