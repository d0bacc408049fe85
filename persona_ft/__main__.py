"`python -m persona_ft`: the console script through the running interpreter (written by hand, see nbs/07_cli.ipynb)."
import sys
from persona_ft.cli import main

if __name__ == '__main__': sys.exit(main())
