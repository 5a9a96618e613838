"""Accounts: what is kept of a password (SCRAM keys), and SASL's exchanges. No I/O here."""
