"""``python -m voiceguide`` runs the command line."""

from voiceguide.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
