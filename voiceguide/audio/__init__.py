"""Sound generation and mixing: numpy only, no I/O."""
