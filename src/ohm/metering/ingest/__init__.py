"""Reading meter-read files (Ohm CSV, Green Button ESPI XML, CMEP) into the interval store.

Parsers turn a file into ``ParsedReads`` (columnar arrays, one element per read) without
touching the database; ``loader.import_reads`` resolves meters, checks and stores them.
"""
