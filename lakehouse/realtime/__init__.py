"""Near-real-time path: collector, MQTT subscriber, durable micro-batches, cart triggers, recommendation API.

Everything here writes the same landing files as ``beacon generate`` (``landing/<source>/<day>/``),
so the bronze landing (exactly once by content hash and contract key) needs no second code path.
"""
