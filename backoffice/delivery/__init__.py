"""Delivering notifications: formats, the SSRF guard, the HTTP sender, e-mail, the worker.

``backoffice.deliveries`` drives these from the service; ``formats`` is also what
``webhooks listen`` decodes with (pure functions, no database).
"""
