import sys

from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

from .cli import main

sys.exit(console(main))
