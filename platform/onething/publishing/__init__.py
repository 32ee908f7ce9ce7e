"""Publishing: a definition's way from files to a published version.

check (a broken catalog is refused whole, with file and JSON pointer), the working
catalog administrators edit (草稿), published versions, `build` and version diffs.
Imports the composer, the catalog and storage; never Flask.
"""
