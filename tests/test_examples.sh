#!/bin/sh
# Runs the main-loop examples that configure could build (examples/glib-loop
# with GLib, examples/uv-loop with libuv): each drives hundreds of children
# through the osevent hooks and exits 0 only if every one ended as it
# should.  Exit 77 (skipped) when neither was built; 1 if any failed.
#
# Run from the build directory (as make check does); the examples may be
# libtool wrapper scripts.

ran=0
failed=0
for ex in glib-loop uv-loop; do
    prog=./examples/$ex
    if [ ! -x "$prog" ]; then
        echo "$ex: not built (its library was not found by configure)"
        continue
    fi
    ran=$((ran + 1))
    if "$prog"; then
        echo "PASS: $ex"
    else
        echo "FAIL: $ex (exit status $?)"
        failed=$((failed + 1))
    fi
done

if [ "$ran" -eq 0 ]; then
    echo "no main-loop example was built: skipped"
    exit 77
fi
[ "$failed" -eq 0 ]
