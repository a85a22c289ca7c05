"""Customer acquisition: profiles, response and uplift models, send time, creatives, campaigns
(issue 17). The face is filled as the engine is built."""

__all__: list[str] = []
