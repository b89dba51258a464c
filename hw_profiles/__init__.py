"""The bundled hardware profiles: one JSON data file per target, read by ``snn_deploy.convert.profiles``.

This folder is the package ``snn_deploy.hw_profiles`` only so that the files ship as package data
and are found with :mod:`importlib.resources` in an installed copy as in a checkout.
"""
