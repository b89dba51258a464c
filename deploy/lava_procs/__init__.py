"""Our Lava Processes and their fixed-point ProcessModels.

Lava's compiler imports every ``.py`` module of this folder (by file path, with no package context)
when it looks for the ProcessModels of a Process defined here. Every module in this folder must
therefore be import-safe: absolute imports only, no side effects, nothing but Processes and models.
"""
