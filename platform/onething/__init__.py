"""OneThing: the engine for 高效办成一件事 (get one thing done efficiently).

A bundle of matters becomes one form, one set of materials, one window and
parallel approvals. The packages follow the data's way through the product, each
importing only the ones below it (the import-linter contracts in pyproject.toml):

    cli, web.app              entry points: the command line and the app factory
    departments | guides      the departments' inbox, API and webhooks | public guides
    cases                     drafts, submit, uploads, decisions: a case and its tasks
    accounts                  accounts, sign-in, roles
    web (toolkit)             extensions, settings, i18n: what every feature's views use
    publishing                check, working catalog, published versions, build, diff
    storage                   the database: engine, models, migrations
    composer                  the one form, its materials, routing and savings
    catalog                   definitions as data: read, formats, texts
"""

__version__ = "0.1.0"
