"""Helpers the tests share: factories, real server processes, a local model server."""
