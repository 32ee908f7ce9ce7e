"""Cases: an applicant's draft, its submission and the tasks it is routed into.

Drafts and submit, uploads, 告知承诺 letters, decisions and corrections (补正), the case
events written to the outbox, and the applicants' pages (start, form, review, status).
Imports accounts, the web toolkit, publishing, storage, the composer and the catalog.
"""
