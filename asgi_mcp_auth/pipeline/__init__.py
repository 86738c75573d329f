"""One request through the package: the `Authenticator` (precedence, verification, revocation),
the principal in the scope and ContextVar, error responses, the audit log and the ASGI
middleware itself."""
