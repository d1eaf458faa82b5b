#!/bin/sh
# Regenerates udf_pb2.py from udf.proto. Run from anywhere; commit the result.
#
# The generator is pinned to grpcio-tools 1.62.3 (libprotoc 25.1) on purpose:
# its Python output has no runtime-version check, so the committed udf_pb2.py
# imports under every protobuf runtime from 4.21 (pyproject's floor) to 7.x.
# Newer generators stamp a check into the output that refuses any runtime
# older than the generator (libprotoc 35 output needs protobuf >= 7.35).
#
# The pin is installed into a throw-away virtualenv so that it cannot
# downgrade the protobuf package of the environment you work in:
#   PROTOGEN_VENV=/tmp/protogen sh udfs/agent/generate_proto.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${PROTOGEN_VENV:-${TMPDIR:-/tmp}/tickml-protogen}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "grpcio-tools==1.62.3"
fi
cd "$here"
"$venv/bin/python" -m grpc_tools.protoc --proto_path=. --python_out=. udf.proto
echo "generated $here/udf_pb2.py with $("$venv/bin/python" -m grpc_tools.protoc --version)"
