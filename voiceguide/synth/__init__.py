"""Speech synthesis: a pyttsx3 worker process, a resampler and an on-disk cache."""
