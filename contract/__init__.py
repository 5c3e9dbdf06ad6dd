"""The contract between the reconciler and the backoffice: the rules both must agree on.

Both ``reconciler/`` and ``backoffice/`` import these modules, and neither keeps a copy
of what is here. Nothing in this package imports SQLAlchemy, FastAPI or the two
packages above it, so ``webhooks listen`` and ``validate --offline`` stay light.

- ``catalogue``: the notification types (codes, names, payment methods, payload variants,
  which are the scenarios ``emit`` and ``test`` send)
- ``payloads``: the notification JSON, built from a variant in the gateway's structure
- ``kinds``: what a notification is, from paymentMethod and paymentType; token masking
- ``rules``: webhook names, store and terminal codes, applications, e-mail addresses
- ``urls``: URL splitting, credentials (userinfo) and their redaction, the URL rule
- ``addresses``: which IP addresses a delivery may never reach (the SSRF rules)
- ``fingerprints``: the public fingerprints of secrets and of URLs with credentials
- ``times``: one parser for durations and moments (``--since``, expiries, schedules)
- ``formats``: the delivery formats, one module each, and their registry
"""
