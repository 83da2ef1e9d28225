"""The local platform: a SQLite file that plays a remote network (the demo and the tests).

- ``adapter``: `LocalNetwork` (the shared room file) and `LocalPlatform` (the adapter).
"""
