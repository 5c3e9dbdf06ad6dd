"""Delivering notifications: the engine, formats, the SSRF guard, the HTTP sender, e-mail,
the worker.

``backoffice.delivery.engine`` (the ``Deliveries`` part) drives the others; ``formats``
is also what ``webhooks listen`` decodes with (pure functions, no database), so this
package imports nothing eagerly.
"""
