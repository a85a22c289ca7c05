"""Wire schemas (pydantic) per area: ``XCreate`` for requests, ``XPublic`` for responses."""
