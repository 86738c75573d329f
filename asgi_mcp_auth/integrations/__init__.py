"""Glue for frameworks and protocols around the pipeline: Starlette decorators, FastAPI
dependencies, RFC 9728 metadata, the Redis revocation store, metrics exporters. Integrations
never import each other."""
