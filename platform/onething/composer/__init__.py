"""The composer: a bundle's matters become one form, one set of materials and a routing plan.

compose, merge, materials, routing, savings, layout, scenario questions and the
compiled validators. Imports only `onething.catalog`; never Flask nor the database, so
the CLI, `build` and any system embedding the engine can use it alone.
"""
