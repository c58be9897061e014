"""``python -m dtao`` runs the command line."""
from dtao.cli import main

main()
