"""Deployment stage: run fixed-point networks on Lava's CPU simulator, bit-accurately. The only stage importing Lava.

Modules (Lava is imported only by ``graph``, ``lava_procs`` and, inside its worker process, ``runner``):

- ``plan``        Lava-free decisions per IR node: Lava's own LIF or our process, Dense or Sparse,
                  message bits, pipeline depth; ``check_deployable`` refuses what Lava would alter.
- ``lava_procs/`` our Lava Processes (input source, recorder, fixed-point neuron populations) and
                  their ``fixed_pt`` PyLoihiProcessModels, which run ``convert.fixed_neurons`` steps.
- ``graph``       builds the Lava process graph of a fixed IR (one window of steps per sample).
- ``runner``      ``run_lava(net, inputs)``: runs samples in a supervised Lava worker, always stops it.
- ``backends``    ``run_backend("lava" | "emulator", ...)``, targets (loihi-sim, loihi-emu, loihi2).
- ``compare``     bit-for-bit comparison of two runs, naming the first difference.
- ``simulate``    ``snn_deploy.run``: a fixed network + inputs (array or data split) -> ``Activity`` in memory.
- ``run_command`` / ``cli``: ``snn-deploy run OUT --data DIR`` (activity.h5 + run.json).
"""
