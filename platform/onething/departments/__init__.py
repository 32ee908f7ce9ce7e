"""The departments: each receives only its slice of a case, and decides within its deadline.

The inbox and task pages, the JSON API with its tokens, and webhook delivery from the
outbox. Imports cases and everything below them; never guides.
"""
