"""Backups and recovery: encrypted database backups, key-material backups, restores.

- ``database.py``: ``manage.py backup`` / ``restore`` (pg_dump custom format
  streamed through portal/crypto/stream.py under PORTAL_BACKUP_KEY; restore
  into an empty database, disposals re-applied, the audit chain verified).
- ``keys.py``: ``manage.py backup_keys`` / ``restore_keys`` (KEKs, blind-index
  key, audit signing key, backup key, the key store and its disposal log,
  encrypted to the clinic's offline recovery public key).
- ``progress.py``: the progress line on a terminal.

docs/operations.md is the administrator's runbook; docs/architecture.md says
how it is built. Point-in-time recovery is pgBackRest's (scripts/pg-local.sh).
"""
