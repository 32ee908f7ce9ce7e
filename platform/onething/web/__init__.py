"""The web shell: the app factory and what every feature's views share.

`app` (the factory), `serving` (gunicorn's processes for `onething serve --workers`)
and `templating` (the template globals of every feature) sit on top and may import any
package; `extensions`, `settings`, `i18n`, `session_cookie` and `operations` (/readyz,
/metrics) are the toolkit below the features, importing only publishing, storage and
the catalog.
Nothing but the entry points (the CLI, the tests) imports `app` or `serving`.
"""
