"""Consumer credit lines: products, applications, purchases, statements, instalments, interest,
delinquency and the close-of-business day (issue 14). The face is filled as the engine is built."""

__all__: list[str] = []
