"""Time stepping: the method of lines (and later Neural Galerkin and deep BSDE)."""
