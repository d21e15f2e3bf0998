import sys

from pixtract.localstack.cli import main

sys.exit(main())
