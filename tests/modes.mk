# Owner modes and fork safety suites (issues 3 and 4).
