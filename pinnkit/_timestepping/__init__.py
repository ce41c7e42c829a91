"""Time stepping: the method of lines and Neural Galerkin."""
