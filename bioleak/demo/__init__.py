"""A small, self-contained black market on 127.0.0.1 that knows its own truth."""
