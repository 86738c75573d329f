"""Glue for frameworks and protocols around the pipeline: Starlette decorators, FastAPI
dependencies, RFC 9728 metadata. Integrations never import each other."""
