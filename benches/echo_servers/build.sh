#!/bin/sh
# Builds the C echo server: benches/echo_servers/build.sh [OUTPUT]
# (default OUTPUT: target/echo_servers/c_echo under the repository root).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../../target/echo_servers/c_echo"}
mkdir -p "$(dirname "$out")"
${CC:-gcc} -O2 -Wall -Wextra -Werror -o "$out" "$here/c_echo.c"
echo "$out"
