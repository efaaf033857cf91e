"""dnatune: transfer learning with DNA language models, from raw genome to report."""

__version__ = "0.1.0"
