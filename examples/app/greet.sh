#!/bin/sh
# Prints a greeting, the config it was built with, and who it runs as.
if [ "$1" = "--self-test" ]; then echo "self-test ok, built on $(uname -m)"; exit 0; fi
echo "${GREETING:-hello}"
cat /app/config.txt
cat /app/build-info.txt
echo "running as $(id -un) in $(pwd), pid $$"
