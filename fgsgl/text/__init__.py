"""FG-Text: sentences from fine-grained attributes, and the frozen text encoders.

Light on import: templates need nothing heavy; encoders import torch/transformers lazily.
"""
