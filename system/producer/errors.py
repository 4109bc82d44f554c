"""The producer's one root exception."""

from __future__ import annotations


class ProducerError(Exception):
    """Anything the producer cannot do: bad configuration, a client that cannot start,
    a ledger that cannot be written."""
