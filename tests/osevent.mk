# Main-loop integration suites (issue 5).
