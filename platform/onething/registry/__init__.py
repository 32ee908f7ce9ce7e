"""The electronic licence registry (电子证照库): data the government already holds.

`providers` is the one small interface: given a holder (a credit code or an ID number)
and a licence type, a provider returns the licence with its issuer, validity and
trust level. The built-in provider reads the registry's own table, which every
certificate issued through OneThing enters (trust A) and administrators import into;
the HTTP provider asks a provincial platform's API at a configured URL. `service`
looks licences up, records issued ones, imports files and seeds the demo.

May import: `onething.storage`, `onething.catalog` (the licence types) and the
web toolkit's settings; never the features that use it (cases, departments, rules).
"""
