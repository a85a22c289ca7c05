"""The customer app at ``/app`` (issue 13): server-rendered Jinja2 + HTMX, mobile-first.
The convention for engines to add pages is documented here once the app is built."""

__all__: list[str] = []
