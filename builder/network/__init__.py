"""The network: one Transformer assembled from a spec's layer plan out of small registered components.

model.py (the Transformer), block.py (one layer and its norm placement), mixers/ (token mixers: attention,
its masks, backends and QK-norm), mlp.py and moe.py (feed-forward sublayers and routing), norms.py,
positions.py / rotary.py / relative.py (positional encodings), cache.py (the decoding KV cache) and init.py
(module-owned initialisation).
"""
