"""The vocabulary every layer speaks: errors, the `Principal`, permission names, JWT algorithm
families. Imports nothing else of the package and nothing of Starlette's request machinery."""
