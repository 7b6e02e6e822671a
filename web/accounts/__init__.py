"""Accounts: users, registration and approval, admin operations, mails (services, no HTTP)."""
