"""`provenance serve`: the HTTP API and the web page over the same service code the CLI uses.

Nothing is imported here: `provenance apikeys` uses `keys` without loading the
web framework, and other commands never import this package at all.
"""
