"""The tag-to-role mapping: its model and checks, the file loader, the JSON Schema, the
compiled form the functions load, and the RAM policies derived from it.

Pure, apart from reading the mapping file.
"""
