"""winlab's TDS endpoints: one per running SQL Server instance.

Each endpoint speaks both entry paths of a real instance (reference/tds-tls-probing.md §1):
TDS 7.x (cleartext PRELOGIN, then TLS carried in 0x12 packets) and TDS 8.0 strict (TLS first).
What TLS it accepts is decided here the way Schannel would decide it, from the host's effective
state at connection time; see ``schannel.py`` for the decision and ``listener.py`` for the API
that the lab supervisor uses.
"""
