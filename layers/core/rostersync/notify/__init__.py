"""Telling people and programs what happened: events on the stack's EventBridge bus, connection
health, and the district contacts' notifications.

- `events`: put events (`Sync Succeeded`, `Sync Failed`, `Sync Held For Review`, `Connection
  Unhealthy`, `Connection Restored`, `Roster Changed`); `schemas` says what each one carries.
- `health`: the connection's health, moved by every sync attempt and connection test.
- `notifications`: one message per kind, district and night to the district's contacts (SES).
- `roster_changes`: after a run, the records it wrote, in chunks under EventBridge's entry size.
- `announce`: the few calls the sync engine, worker, runs and API make; it never raises.

Nothing here changes a run or a roster: it only reads them and tells.
"""
