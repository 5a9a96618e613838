"""Storage: the embedded SQLite database (database.py) and what is kept in it (accounts.py).

Behind small interfaces, so that a cluster can put the same schema per node, or a shared
store, behind the same calls.
"""
