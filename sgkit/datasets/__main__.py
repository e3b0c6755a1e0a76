"""``python -m sgkit.datasets``: write the demo figures and print the data statistics."""
from .demo import main

main()
