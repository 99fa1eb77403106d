"""The front of the site: the home page (each role's worklist), error pages, the phone layout."""
