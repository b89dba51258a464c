"""Deployment stage: Lava process graph built from the fixed IR, run on the Lava CPU simulator. The only stage importing Lava."""
