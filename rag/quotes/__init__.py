"""Who said what: quotations extracted from article text, their speakers, people across articles."""
from .extract import Quote, extract_quotes

__all__ = ["Quote", "extract_quotes"]
