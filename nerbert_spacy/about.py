__title__ = "nerbert-spacy"
__version__ = "0.1.0"
