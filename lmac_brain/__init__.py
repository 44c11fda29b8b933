"""lmac_brain: L-MAC (Listenable Maps for Audio Classifiers) as a SpeechBrain recipe extension."""

__version__ = "0.1.0"
