"""The HTTP edge of the simulated provider: ``app.py``, the ASGI app (AMS calls, the /sim admin API, bodies read
to their limit, refusals in the API's shapes); ``transit.py``, the transit router; ``bodies.py``, the admin
API's body models. It maps what the services answer to HTTP, and does nothing else."""
