"""Translation without PyTorch: an exported model (nmt/export.py) on ONNX Runtime, NumPy and sentencepiece.

    from nmt.lite import Translator
    Translator.load("exported/").translate("Ein Hund läuft.").text

Nothing under nmt.lite imports torch (tests/test_lite.py checks it with torch made unimportable).
"""

from nmt.lite.translator import Translator

__all__ = ["Translator"]
