"""The built-in pieces of trust evidence, one per file, each registered with
:func:`geosr.trust.registry.register_evidence` (see that module for the contract)."""
