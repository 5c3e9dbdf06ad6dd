"""webhooks-reconciler: webhooks as code for a payment gateway backoffice."""

__version__ = "0.1.0"
