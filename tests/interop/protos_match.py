"""Check that ftapi's proto/ files describe the same wire format as the official SDK.

Usage:
    python protos_match.py OUR_DESCRIPTORS.bin

OUR_DESCRIPTORS.bin is a serialized google.protobuf.FileDescriptorSet of ftapi's
proto/ directory (the Rust constant `ftapi::pb::FILE_DESCRIPTOR_SET`; the Rust test in
tests/interop.rs writes it to a temporary file). The official definitions are the
descriptors compiled into the installed `futu-api` package (`futu.common.pb.*_pb2`).

What must match, for every file of ours:
  * the file exists officially, with the same package and syntax (proto2);
  * every message of ours (nested ones too) exists officially, and each of its fields
    has the same name, number, type, type_name, label, default value and `packed`
    option; every official field of that message exists in ours;
  * every enum of ours exists officially with the same value names and numbers (and
    the same `allow_alias` setting);
  * every official message and enum of the file exists in ours (unless the file is in
    SUBSET_FILES, which is empty now that Qot_Common.proto is complete).
Also, every official trading-side and market-data file (Trd_*.proto, Qot_*.proto and
the connection-level files) must have a counterpart in proto/.

Exit status: 0 when everything matches, 1 on any difference (each one is printed),
2 on a usage or setup error.
"""

import importlib
import sys

from google.protobuf import descriptor_pb2

# Files of which ours holds only a subset of the official messages and enums (none).
SUBSET_FILES = set()

# Official files outside Trd_* and Qot_* that the client needs (PROTOCOL.md section 8, and
# the connection-level requests 1005-1007 the quote side exposes).
CONNECTION_FILES = [
    "Common.proto",
    "InitConnect.proto",
    "GetGlobalState.proto",
    "Notify.proto",
    "KeepAlive.proto",
    "GetUserInfo.proto",
    "Verification.proto",
    "GetDelayStatistics.proto",
]

# Prefixes of the official files that must all have a counterpart.
REQUIRED_PREFIXES = ("Trd_", "Qot_")

# The FieldDescriptorProto attributes that define the wire format and the generated API.
FIELD_ATTRS = ("name", "number", "type", "type_name", "label", "default_value")


def official_file(file_name):
    """The official FileDescriptorProto of `file_name`, or None if futu-api has no such file."""
    module_name = "futu.common.pb." + file_name[: -len(".proto")] + "_pb2"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)


def official_file_names():
    """Names of all .proto files shipped in futu-api's pb package."""
    import os

    import futu.common.pb as pb

    folder = os.path.dirname(pb.__file__)
    return sorted(n for n in os.listdir(folder) if n.endswith(".proto"))


def collect(file_proto):
    """Maps full name -> DescriptorProto / EnumDescriptorProto for every message and enum in a file."""
    messages, enums = {}, {}

    def walk(prefix, message_list, enum_list):
        for enum in enum_list:
            enums[prefix + enum.name] = enum
        for message in message_list:
            name = prefix + message.name
            messages[name] = message
            walk(name + ".", message.nested_type, message.enum_type)

    walk(file_proto.package + "." if file_proto.package else "", file_proto.message_type, file_proto.enum_type)
    return messages, enums


def syntax_of(file_proto):
    # protoc leaves `syntax` empty for proto2 files; other compilers write "proto2".
    return file_proto.syntax or "proto2"


def packed(field):
    return field.options.packed if field.options.HasField("packed") else None


class Checker:
    def __init__(self):
        self.problems = []
        self.counts = {"files": 0, "messages": 0, "fields": 0, "enums": 0, "enum values": 0}

    def problem(self, text):
        self.problems.append(text)

    def compare_file(self, ours):
        name = ours.name
        theirs = official_file(name)
        if theirs is None:
            self.problem(f"{name}: no such file in futu-api")
            return
        self.counts["files"] += 1
        if ours.package != theirs.package:
            self.problem(f"{name}: package {ours.package!r}, official {theirs.package!r}")
        if syntax_of(ours) != syntax_of(theirs):
            self.problem(f"{name}: syntax {syntax_of(ours)!r}, official {syntax_of(theirs)!r}")

        our_messages, our_enums = collect(ours)
        their_messages, their_enums = collect(theirs)

        for full_name, message in our_messages.items():
            if full_name not in their_messages:
                self.problem(f"{name}: message {full_name} does not exist officially")
                continue
            self.compare_message(full_name, message, their_messages[full_name])
        for full_name, enum in our_enums.items():
            if full_name not in their_enums:
                self.problem(f"{name}: enum {full_name} does not exist officially")
                continue
            self.compare_enum(full_name, enum, their_enums[full_name])

        if name not in SUBSET_FILES:
            for full_name in their_messages.keys() - our_messages.keys():
                self.problem(f"{name}: official message {full_name} is missing from ours")
            for full_name in their_enums.keys() - our_enums.keys():
                self.problem(f"{name}: official enum {full_name} is missing from ours")

    def compare_message(self, full_name, ours, theirs):
        self.counts["messages"] += 1
        their_fields = {f.name: f for f in theirs.field}
        our_fields = {f.name: f for f in ours.field}
        for field in ours.field:
            official = their_fields.get(field.name)
            if official is None:
                self.problem(f"{full_name}.{field.name}: field does not exist officially")
                continue
            self.counts["fields"] += 1
            for attr in FIELD_ATTRS:
                a, b = getattr(field, attr), getattr(official, attr)
                if a != b:
                    self.problem(f"{full_name}.{field.name}: {attr} is {a!r}, official {b!r}")
            if packed(field) != packed(official):
                self.problem(f"{full_name}.{field.name}: packed is {packed(field)}, official {packed(official)}")
        for field in theirs.field:
            if field.name not in our_fields:
                self.problem(f"{full_name}.{field.name}: official field (#{field.number}) is missing from ours")

    def compare_enum(self, full_name, ours, theirs):
        self.counts["enums"] += 1
        our_values = {v.name: v.number for v in ours.value}
        their_values = {v.name: v.number for v in theirs.value}
        for value_name, number in our_values.items():
            if value_name not in their_values:
                self.problem(f"{full_name}.{value_name}: value does not exist officially")
            elif their_values[value_name] != number:
                self.problem(f"{full_name}.{value_name}: number {number}, official {their_values[value_name]}")
            else:
                self.counts["enum values"] += 1
        for value_name, number in their_values.items():
            if value_name not in our_values:
                self.problem(f"{full_name}.{value_name}: official value ({number}) is missing from ours")
        if ours.options.allow_alias != theirs.options.allow_alias:
            self.problem(
                f"{full_name}: allow_alias is {ours.options.allow_alias}, official {theirs.options.allow_alias}"
            )


def check(our_set):
    """Compares a FileDescriptorSet with futu-api; returns the Checker with its findings."""
    checker = Checker()
    our_names = {f.name for f in our_set.file}
    for file_proto in sorted(our_set.file, key=lambda f: f.name):
        checker.compare_file(file_proto)
    needed = CONNECTION_FILES + [n for n in official_file_names() if n.startswith(REQUIRED_PREFIXES)]
    for file_name in needed:
        if file_name not in our_names:
            checker.problem(f"{file_name}: official file has no counterpart in proto/")
    return checker


def self_test(our_set):
    """Plants known differences in a copy of our descriptors and makes sure each is reported,
    so that a checker bug cannot turn this test into one that always passes."""

    def find(file_name, message_name):
        file_proto = next(f for f in copy.file if f.name == file_name)
        return file_proto, next(m for m in file_proto.message_type if m.name == message_name)

    copy = descriptor_pb2.FileDescriptorSet()
    copy.CopyFrom(our_set)
    f = descriptor_pb2.FieldDescriptorProto
    _, order = find("Trd_Common.proto", "Order")
    order.field[0].type = f.TYPE_INT64  # trdSide: int32 -> int64
    order.field[1].number = 99  # orderType: field number
    order.field[2].label = f.LABEL_OPTIONAL  # orderStatus: required -> optional
    del order.field[3]  # orderID missing
    _, response = find("InitConnect.proto", "Response")
    response.field[0].default_value = "0"  # retType default -400 -> 0
    common = next(x for x in copy.file if x.name == "Common.proto")
    common.enum_type[0].value[1].number = 7  # RetType_Failed -1 -> 7
    copy.file.remove(next(x for x in copy.file if x.name == "Trd_Notify.proto"))
    copy.file.remove(next(x for x in copy.file if x.name == "Qot_UpdateKL.proto"))
    _, kline = find("Qot_Common.proto", "KLine")
    kline.field[0].name = "closeTime"  # time renamed: ours unknown officially, theirs missing

    expected = [
        "Trd_Common.Order.trdSide: type",
        "Trd_Common.Order.orderType: number",
        "Trd_Common.Order.orderStatus: label",
        "Trd_Common.Order.orderID: official field",
        "InitConnect.Response.retType: default_value",
        "Common.RetType.RetType_Failed: number",
        "Trd_Notify.proto: official file has no counterpart",
        "Qot_UpdateKL.proto: official file has no counterpart",
        "Qot_Common.KLine.closeTime: field does not exist officially",
        "Qot_Common.KLine.time: official field",
    ]
    problems = check(copy).problems
    missed = [e for e in expected if not any(p.startswith(e) for p in problems)]
    if missed or len(problems) != len(expected):
        print("SELF-TEST FAILED: planted differences", missed, "not reported; reported:", problems)
        return False
    return True


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import futu  # noqa: F401  (puts futu's pb folder on sys.path, which the _pb2 modules need)
    except ImportError as e:
        print(f"cannot import futu (pip install futu-api): {e}", file=sys.stderr)
        return 2

    with open(argv[1], "rb") as f:
        our_set = descriptor_pb2.FileDescriptorSet.FromString(f.read())

    if not self_test(our_set):
        return 1
    checker = check(our_set)
    summary = ", ".join(f"{n} {what}" for what, n in checker.counts.items())
    if checker.problems:
        for p in checker.problems:
            print("MISMATCH", p)
        print(f"protos_match: {len(checker.problems)} difference(s) from futu-api ({summary} compared)")
        return 1
    print(f"protos_match: proto/ matches futu-api ({summary} compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
