"""Use cases: authorize -> validate -> write (events in the same transaction) -> publish after commit."""
