"""The catalog: definitions (departments, matters (事项), bundles (一件事), fields) as data.

Reading a schemas folder, the formats fields are checked in (ID numbers, credit codes),
localized definition texts, administrative divisions and the working-day calendar.
Imports nothing of onething outside this package, and neither Flask nor the database.
"""
