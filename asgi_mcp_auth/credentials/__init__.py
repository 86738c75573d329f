"""Turning a credential into a `Principal`: the `TokenVerifier` protocol, JWT verification,
JWKS keys, claims mapping and the verified-token cache. Imports `settings`, `policy` and `core`."""
