"""Pixels to text: decoders, the cascade, scanner sources and damage."""
