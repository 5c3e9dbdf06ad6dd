"""The backoffice over HTTP: the FastAPI app, its wire bodies, problem responses, the server.

Nothing here holds a rule: each route authenticates, calls one part of the
``Backoffice`` and shapes the answer. Every import is absolute, so this package's
name never shadows the standard library's ``http`` (which starlette and uvicorn use).
"""
