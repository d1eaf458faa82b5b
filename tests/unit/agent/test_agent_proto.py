"""udf.proto: the committed udf_pb2.py is current and wire-compatible with Kapacitor's."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

from udfs.agent import udf_pb2

HERE = Path(udf_pb2.__file__).parent
WRAPPER = HERE.parents[1] / "stack" / "go" / "kapacitor" / "go.mod"


def kapacitor_proto() -> Path:
    """Kapacitor's udf.proto in the Go module cache, of the version the stack builds (stack/install.sh fetches it)."""
    version = re.search(r"github\.com/influxdata/kapacitor (v\S+)", WRAPPER.read_text()).group(1)
    cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    proto = Path(cache) / f"github.com/influxdata/kapacitor@{version}" / "udf" / "agent" / "udf.proto"
    assert proto.exists(), f"{proto} is missing: run stack/install.sh (it downloads Kapacitor {version})"
    return proto


def compile_descriptor(proto: Path) -> descriptor_pb2.FileDescriptorProto:
    # Debian's protoc (stack/install.sh installs protobuf-compiler): only the
    # descriptor is compared, so any protoc version does.
    protoc = shutil.which("protoc")
    assert protoc, "protoc is missing: run stack/install.sh (Debian package protobuf-compiler)"
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "set.pb"
        subprocess.run([protoc, f"--proto_path={proto.parent}", f"--descriptor_set_out={out}", proto.name],
                       check=True, capture_output=True)
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return fds.file[0]


def committed() -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(udf_pb2.DESCRIPTOR.serialized_pb)


def wire_shape(fd: descriptor_pb2.FileDescriptorProto):
    """Everything that decides the bytes on the wire, nothing else (comments, go_package)."""
    def fields(msg):
        return {
            "fields": sorted((f.number, f.name, f.type, f.label, f.type_name,
                              msg.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else "")
                             for f in msg.field),
            "nested": {m.name: fields(m) for m in msg.nested_type},
        }
    return {
        "package": fd.package,
        "messages": {m.name: fields(m) for m in fd.message_type},
        "enums": {e.name: sorted((v.name, v.number) for v in e.value) for e in fd.enum_type},
    }


def without_json_names(fd):
    # --descriptor_set_out records json_name, generated Python code does not.
    def strip(msg):
        for f in msg.field:
            f.ClearField("json_name")
        for m in msg.nested_type:
            strip(m)
    for m in fd.message_type:
        strip(m)
    return fd


def test_committed_udf_pb2_is_generated_from_udf_proto():
    fresh = without_json_names(compile_descriptor(HERE / "udf.proto"))
    assert committed() == fresh, "udf_pb2.py is stale: run udfs/agent/generate_proto.sh"


def test_wire_compatible_with_kapacitor():
    ours, theirs = wire_shape(committed()), wire_shape(compile_descriptor(kapacitor_proto()))
    assert ours["package"] == theirs["package"] == "agent"
    assert ours == theirs


def test_response_point_has_the_same_bytes_as_request_point():
    # Handler.forward relies on this: a point request is a point response.
    p = udf_pb2.Point(time=5, name="m", fieldsDouble={"t": 1.5}, tags={"a": "b"})
    raw = udf_pb2.Request(point=p).SerializeToString()
    assert udf_pb2.Response.FromString(raw).point == p


def test_numbers_only_decoder_matches_udf_proto():
    # Point.number() decodes with a reduced message; its fields must be udf.proto's.
    from udfs.agent.numbers_only import BatchNumbers, NumbersRequest
    from udfs.agent.points import Point

    for cls in (NumbersRequest, BatchNumbers):
        ours = cls.DESCRIPTOR.fields_by_name["point"]
        assert ours.number == udf_pb2.Request.DESCRIPTOR.fields_by_name["point"].number
        full = udf_pb2.Point.DESCRIPTOR.fields_by_name
        for name, f in ours.message_type.fields_by_name.items():
            assert f.number == full[name].number and f.type == full[name].type
            if f.message_type is not None:
                assert f.message_type.fields_by_name["value"].type == \
                    full[name].message_type.fields_by_name["value"].type
    p = udf_pb2.Point(time=3, tags={"a": "b"}, fieldsDouble={"t": 2.5}, fieldsInt={"n": -4},
                      fieldsString={"s": "x"}, dimensions=["a"])
    lazy = Point(None, udf_pb2.Request(point=p).SerializeToString())
    assert (lazy.number("t"), lazy.number("n")) == (2.5, -4.0)
    assert lazy.msg == p and lazy.fields == {"t": 2.5, "n": -4, "s": "x"}
