"""snn-deploy: surrogate-gradient SNN training -> Loihi fixed point -> bit-accurate Lava run -> energy.

The four stages are the top-level folders ``train/ convert/ deploy/ energy/``, importable as
``snn_deploy.train`` etc. Data flows one way; no stage imports a later one. Shared definitions
(the network IR, the activity file, errors, atomic file writing) live in this package.
"""

__version__ = "0.1.0"
