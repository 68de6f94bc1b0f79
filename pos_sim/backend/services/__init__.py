"""The simulated provider's services: what each call does, over the store, free of HTTP."""
