"""One blueprint per area of the UI; each module defines ``bp``."""
