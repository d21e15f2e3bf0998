"""Pixtract auth service: accounts, access and refresh tokens, API keys, signing keys."""
