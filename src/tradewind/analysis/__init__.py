"""Analysis: indicators (a typed layer over TA-Lib), smart-money structure, market condition, levels."""
