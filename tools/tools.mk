# xlchild-run (issue 6).
