"""Config loading: read ``webhooks.yaml``, check it, resolve its references.

``loader`` reads a file (fast and slow paths) and places every problem in it;
``yamlload`` and ``yamlnodes`` parse YAML; ``schema_check`` holds the JSON Schema and
explains its errors; ``checks`` makes the checks a schema cannot; ``references``
resolves ``${env:NAME}`` and ``${file:PATH}``, ``reference_places`` says where they may be,
``source`` which files may be read at all. Nothing here plans or prints.
"""

from __future__ import annotations

from reconciler.config.checks import (
    DEFAULT_FIELDS,
    URL_ONLY_FIELDS,
    WEBHOOK_FIELDS,
    application_problem,
    email_problem,
    notification_findings,
    secret_problem,
)
from reconciler.config.findings import Finding, did_you_mean
from reconciler.config.loader import ConfigReport, load_config, read_config
from reconciler.config.references import REFERENCE_FIELDS, SecretsMode
from reconciler.config.schema_check import (
    SCHEMA_PATH,
    quick_validator,
    schema,
    schema_findings,
    validator,
)
from reconciler.config.yamlload import MAX_FILE_BYTES

__all__ = [
    "DEFAULT_FIELDS",
    "MAX_FILE_BYTES",
    "REFERENCE_FIELDS",
    "SCHEMA_PATH",
    "URL_ONLY_FIELDS",
    "WEBHOOK_FIELDS",
    "ConfigReport",
    "Finding",
    "SecretsMode",
    "application_problem",
    "did_you_mean",
    "email_problem",
    "load_config",
    "notification_findings",
    "quick_validator",
    "read_config",
    "schema",
    "schema_findings",
    "secret_problem",
    "validator",
]
