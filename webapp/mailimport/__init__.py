"""Importing mail: mbox files, folders of .eml files and uploads, into one workspace."""
