"""Everything between a user's text and piece ids, and back, without PyTorch: tokenizers (sentencepiece),
sentences (segment), kept spans (spans), glossaries and the terms a translation must hold (glossary,
terms), HTML (markup: parsing; placement: inline elements on the translated words), language
identification (langid) and a text's translation (lines: Translation)."""
