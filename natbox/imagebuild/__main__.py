import sys

from natbox.imagebuild.build import main

sys.exit(main())
