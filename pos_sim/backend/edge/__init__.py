"""The HTTP edge of the simulated provider: the ASGI app, its routers and their body models."""
