"""Roster Sync's domain: the OneRoster client, the store, the sync engine and the API routes.

Deployed as a Lambda layer. Never imports from rostersync_tools (the local stack, the
sandbox SIS and the ops CLI), which live around the product, not in it.
"""
