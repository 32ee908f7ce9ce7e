"""Accounts: administrators, department staff and front-desk clerks, their sign-in and roles.

Imports the web toolkit, publishing (to know the departments), storage and below.
"""
