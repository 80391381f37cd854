#!/bin/sh
# Builds the C baselines: benches/echo_servers/build.sh [OUTPUT_DIR_OR_ECHO_PATH]
# The echo server goes to target/echo_servers/c_echo and the forwarder to
# target/echo_servers/c_proxy under the repository root (or, given a path
# to the echo binary, the forwarder goes beside it as c_proxy).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../../target/echo_servers/c_echo"}
mkdir -p "$(dirname "$out")"
${CC:-gcc} -O2 -Wall -Wextra -Werror -o "$out" "$here/c_echo.c"
${CC:-gcc} -O2 -Wall -Wextra -Werror -o "$(dirname "$out")/c_proxy" "$here/c_proxy.c"
echo "$out"
