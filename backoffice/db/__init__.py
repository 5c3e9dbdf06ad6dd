"""The database: engine and transactions, migrations, the SQL tables and the queries.

SQLAlchemy Core only; nothing outside this package writes SQL. The parts of the
backoffice (merchants, tokens, webhooks, deliveries) run these queries inside the
transactions of one ``Database``.
"""
