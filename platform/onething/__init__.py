"""OneThing: the engine for 高效办成一件事 (get one thing done efficiently).

A bundle of matters becomes one form, one set of materials, one window and
parallel approvals. This package holds the definitions, the composer, routing,
storage, the applicants' and departments' web, and the command line.
"""

__version__ = "0.1.0"
