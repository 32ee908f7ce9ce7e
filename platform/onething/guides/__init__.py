"""Guides (办事指南): what the public reads before applying.

The home page's list of services, each guide with its QR code and poster, the flow
diagram, and the service manual's one-sentence search. Imports cases (a guide's live
preview uses the start page's questions) and everything below; never departments.
"""
