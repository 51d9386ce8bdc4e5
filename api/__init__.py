"""The HTTP face of Zhengwu (FastAPI). Display formatting lives here, not in the core."""
