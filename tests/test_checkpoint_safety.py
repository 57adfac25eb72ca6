"""fairseq's checkpoint loader works under torch's weights_only default, and stays safe.

Malicious files are crafted as raw pickle bytes (protocol 0/2 opcodes, hand-written below) put
into the ``data.pkl`` of a real torch zip file, so each test controls exactly which globals a
file names, as an attacker would.
"""
import argparse
import io
import pickle
import re
import struct
import zipfile

import numpy as np
import pytest
import torch

import fairseq_unilmv2  # noqa: F401  (installs the safe loader)
from fairseq import checkpoint_utils
from fairseq_unilmv2.checkpoint_safety import UnsafeCheckpointError, fairseq_checkpoint_globals


def _legacy_state():
    """What fairseq checkpoints contain beyond tensors: an argparse Namespace and numpy data."""
    return {
        "args": argparse.Namespace(arch="unilmv2_tiny", task="pmlm", lr=[1e-4]),
        "cfg": None,
        "model": {"w": torch.ones(2)},
        "extra_state": {"best": np.float64(3.25), "rng": np.random.RandomState(0).get_state(),
                        "counts": np.arange(4, dtype=np.int32)},
        "optimizer_history": [{"criterion_name": "PMLMCriterion", "optimizer_name": "Adam",
                               "lr_scheduler_state": {"best": np.float64(3.25)}, "num_updates": 7}],
    }


def _legacy_checkpoint(path):
    torch.save(_legacy_state(), path)


def _with_data_pkl(path, edit):
    """Rewrite the pickle inside the torch zip file at ``path`` with ``edit(bytes) -> bytes``."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for name, data in entries:
            zout.writestr(name, edit(data) if name.endswith("/data.pkl") else data)
    path.write_bytes(out.getvalue())


def _check_legacy_state(state):
    assert state["args"].arch == "unilmv2_tiny"
    assert state["extra_state"]["best"] == 3.25
    assert state["extra_state"]["counts"].tolist() == [0, 1, 2, 3]
    # MT19937 seeded 0: key[0] = 0, key[i] = 1812433253 * (key[i-1] ^ key[i-1] >> 30) + i
    assert state["extra_state"]["rng"][1][:3].tolist() == [0, 1, 1812433255]
    assert state["model"]["w"].tolist() == [1.0, 1.0]


def test_fairseq_loader_reads_namespace_and_numpy(tmp_path):
    path = tmp_path / "legacy.pt"
    _legacy_checkpoint(path)
    _check_legacy_state(checkpoint_utils.load_checkpoint_to_cpu(str(path)))


# numpy 2 writes ``numpy._core.multiarray``; numpy 1.x wrote ``numpy.core.multiarray`` (a GLOBAL
# opcode is ``c`` + module + newline + name + newline, so the module can be swapped in place).
NUMPY2, NUMPY1 = b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy-torch-format"])
def test_numpy1_checkpoint_loads(tmp_path, zip_format):
    """fairseq issues 5603/5610: checkpoints written under numpy 1.x name numpy.core.multiarray."""
    path = tmp_path / "numpy1.pt"
    torch.save(_legacy_state(), path, _use_new_zipfile_serialization=zip_format)

    def as_numpy1(data):
        # each GLOBAL is written once and memoised: scalar (the two np.float64 "best") and
        # _reconstruct (the rng key array and "counts")
        assert data.count(NUMPY2 + b"scalar\n") == 1 and data.count(NUMPY2 + b"_reconstruct\n") == 1
        data = data.replace(NUMPY2, NUMPY1)
        assert b"numpy._core" not in data
        return data

    if zip_format:
        _with_data_pkl(path, as_numpy1)
    else:
        path.write_bytes(as_numpy1(path.read_bytes()))
    _check_legacy_state(checkpoint_utils.load_checkpoint_to_cpu(str(path)))


def test_allow_list_is_exactly_fairseqs_data_classes():
    """Every name a checkpoint may call, written out: adding e.g. builtins.eval fails here."""
    names = {}
    for entry in fairseq_checkpoint_globals():
        fn, name = entry if isinstance(entry, tuple) else (entry, f"{entry.__module__}.{entry.__qualname__}")
        names[name] = fn
    dtype_classes = {"Bool", "Bytes", "CLongDouble", "Complex128", "Complex64", "DateTime64", "Float16",
                     "Float32", "Float64", "Int16", "Int32", "Int64", "Int8", "LongDouble", "LongLong",
                     "Object", "Str", "String", "TimeDelta64", "UInt16", "UInt32", "UInt64", "UInt8",
                     "ULongLong", "Void"}  # numpy 2.4's numpy.dtypes.*DType (pinned in requirements.txt)
    omegaconf = {"omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig",
                 "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata"} | {
        f"omegaconf.nodes.{n}Node" for n in ("Any", "String", "Integer", "Float", "Boolean", "Bytes")}
    # the types omegaconf's metadata records, and its resolver cache (a defaultdict(dict))
    metadata_types = {"typing.Any", "typing.Dict", "typing.List", "collections.defaultdict"} | {
        f"builtins.{t}" for t in ("dict", "list", "int", "str", "float", "bool", "bytes")}
    assert set(names) == {
        "argparse.Namespace", "numpy.ndarray", "numpy.dtype",
        "numpy._core.multiarray._reconstruct", "numpy._core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
    } | {f"numpy.dtypes.{c}DType" for c in dtype_classes} | omegaconf | metadata_types
    # the numpy 1.x spelling maps to the very same two functions, nothing else
    assert names["numpy.core.multiarray.scalar"] is np._core.multiarray.scalar
    assert names["numpy.core.multiarray._reconstruct"] is np._core.multiarray._reconstruct
    assert names["numpy._core.multiarray.scalar"] is np._core.multiarray.scalar
    assert names["numpy._core.multiarray._reconstruct"] is np._core.multiarray._reconstruct
    assert names["argparse.Namespace"] is argparse.Namespace
    assert names["numpy.ndarray"] is np.ndarray and names["numpy.dtype"] is np.dtype
    assert all(isinstance(fn, type) and issubclass(fn, np.dtype)
               for name, fn in names.items() if name.startswith("numpy.dtypes."))


def test_safety_stays_on_outside_the_loader(tmp_path):
    path = tmp_path / "legacy.pt"
    _legacy_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # plain torch.load keeps weights_only=True


# --- malicious checkpoints: each payload creates the file TARGET when it runs -------------------

def _u(text):
    """BINUNICODE opcode for ``text`` (torch's weights-only unpickler reads only the binary
    opcodes of protocol 2, so every payload is written with those: a refusal must come from the
    global it names, never from an opcode torch does not know)."""
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _bytes(data):
    """bytes as protocol 2 writes them: _codecs.encode(latin-1 text, 'latin1')."""
    return _call("_codecs", "encode", _u(data.decode("latin-1")), _u("latin1"))


def _call(module, name, *args):
    """GLOBAL module.name, then REDUCE on a tuple of already-encoded arguments."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n(" + b"".join(args) + b"tR"


def _list(*items):
    return b"]" + b"".join(item + b"a" for item in items)


def _object_array(raw):
    """An object-dtype ndarray of shape (n,) as numpy pickles it: _reconstruct, then BUILD with
    (version, shape, dtype, fortran, raw) where raw must be a list of the objects."""
    return (_call("numpy._core.multiarray", "_reconstruct", b"cnumpy\nndarray\n", b"K\x00\x85", _bytes(b"b"))
            + b"(K\x01K\x01\x85" + _call("numpy", "dtype", _u("O8"), b"\x89\x88") + b"\x89" + raw + b"tb")


def _payloads(target):
    """kind -> (pickle bytes of the payload, the first global a safe loader must refuse)."""
    code = f"__import__('pathlib').Path('{target}').write_text('pwned')"
    touch = f"touch {target}"
    exec_code = _call("builtins", "exec", _u(code))
    return {
        "os.system": (_call("os", "system", _u(touch)), "os.system"),
        "posix.system": (_call("posix", "system", _u(touch)), "posix.system"),  # pickle's name for os.system
        "builtins.eval": (_call("builtins", "eval", _u(code)), "builtins.eval"),
        "builtins.exec": (exec_code, "builtins.exec"),
        "subprocess.check_call": (_call("subprocess", "check_call", _list(_u("touch"), _u(str(target)))),
                                  "subprocess.check_call"),
        # getattr(subprocess.Popen([...]), 'wait')()
        "subprocess.Popen+getattr": (b"cbuiltins\ngetattr\n(" + _call("subprocess", "Popen", _list(_u("touch"), _u(str(target))))
                                     + _u("wait") + b"tR)R", "builtins.getattr"),
        # getattr(__import__('os'), 'system')('touch ...')
        "getattr-chain": (b"cbuiltins\ngetattr\n(" + _call("builtins", "__import__", _u("os")) + _u("system")
                          + b"tR(" + _u(touch) + b"tR", "builtins.getattr"),
        "importlib-chain": (b"cbuiltins\ngetattr\n(" + _call("importlib", "import_module", _u("os"))
                            + _u("system") + b"tR(" + _u(touch) + b"tR", "builtins.getattr"),
        # the payload hidden inside classes the allow-list does admit
        "in-Namespace-state": (b"cargparse\nNamespace\n)R}" + _u("evil") + exec_code + b"sb", "builtins.exec"),
        "in-object-array": (_object_array(_list(exec_code)), "builtins.exec"),
    }


def _checkpoint_with(tmp_path, payload):
    """A real torch zip checkpoint of fairseq's oldest layout, whose ``best_loss`` is the payload."""
    path = tmp_path / "evil.pt"
    torch.save({}, path)
    state = (b"\x80\x02}(" + _u("model") + b"}" + _u("args") + b"N" + _u("cfg") + b"N" + _u("optimizer") + b"}" + _u("extra_state") + b"}"
             + _u("best_loss") + payload
             + b"u.")
    _with_data_pkl(path, lambda _: state)
    return path


@pytest.mark.parametrize("kind", sorted(_payloads("T")))
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, kind):
    target = tmp_path / "pwned.txt"
    payload, refused = _payloads(target)[kind]
    path = _checkpoint_with(tmp_path, payload)
    # Sanity: the payload does run when safety is off, so "nothing ran" below means something.
    try:
        torch.load(path, weights_only=False)
    except Exception:
        pass  # e.g. os.system returns 0 and the file is then not a dict: what matters is the side effect
    assert target.exists(), f"payload {kind} did not run with weights_only=False"
    target.unlink()

    with pytest.raises(pickle.UnpicklingError) as refusal:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not target.exists()
    # refused for the global it calls, not for anything else in the file
    # (torch prints builtins without their module: "GLOBAL eval was not an allowed global")
    name = re.escape(refused.removeprefix("builtins."))
    assert re.search(rf"GLOBAL (builtins\.)?{name} (was not an allowed global|whose module \w+ is blocked)",
                     str(refusal.value)), str(refusal.value)


def test_object_array_with_raw_pointer_bytes_is_refused(tmp_path):
    """An object-dtype ndarray whose state is raw bytes would be read as PyObject pointers;
    numpy refuses it ('object pickle not returning list', raised through torch's loader as
    numpy's TypeError) instead of reading memory."""
    path = _checkpoint_with(tmp_path, _object_array(_bytes(b"\x41" * 8)))
    with pytest.raises(TypeError, match="object pickle not returning list"):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))


def test_object_array_of_plain_values_loads(tmp_path):
    """Control for the two tests above: the same crafted object array holding plain values loads,
    so their refusals come from the payload, not from how the file is written."""
    path = _checkpoint_with(tmp_path, _object_array(_list(_u("plain"))))
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    # fairseq's upgrade of this old layout moved best_loss into the lr scheduler's state
    assert state["optimizer_history"][0]["lr_scheduler_state"]["best"].tolist() == ["plain"]


# --- omegaconf configs: what other fairseq versions and tools write ----------------------------

def _dictconfig_cfg():
    """A fairseq-style run config as a DictConfig: struct flag, nested containers, a list, typed
    and untyped nodes, int keys, None, a missing value, an interpolation."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.nodes import BooleanNode, BytesNode, FloatNode, IntegerNode, StringNode

    cfg = OmegaConf.create({"model": {"_name": "unilmv2_tiny", "dropout": 0.1, "layers": [1, 2.5, None, True]},
                            "task": {"_name": "pmlm", "data": "bin", "tokens": "${model.dropout}"},
                            "common": {"seed": 7, "missing": "???", 3: "three"}},
                           flags={"allow_objects": True})
    cfg.typed = DictConfig({"s": StringNode("x"), "i": IntegerNode(3), "f": FloatNode(1.5),
                            "b": BooleanNode(False), "y": BytesNode(b"ab")})
    OmegaConf.set_struct(cfg, True)
    return cfg


def test_checkpoint_with_a_dictconfig_config_loads(tmp_path):
    from omegaconf import OmegaConf

    path = tmp_path / "dictconfig.pt"
    state = _legacy_state()
    state["args"], state["cfg"] = None, _dictconfig_cfg()  # with args, fairseq would rebuild cfg from them
    state["extra_state"]["nested"] = OmegaConf.create([{"a": 1}])  # a ListConfig root elsewhere
    torch.save(state, path)
    with pytest.raises(pickle.UnpicklingError):  # control: torch alone refuses it
        torch.load(path)
    loaded = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert loaded["model"]["w"].tolist() == [1.0, 1.0] and loaded["extra_state"]["best"] == 3.25
    cfg = loaded["cfg"]
    assert OmegaConf.to_container(cfg) == OmegaConf.to_container(_dictconfig_cfg())
    assert cfg.task.tokens == 0.1 and cfg.model.layers[1] == 2.5 and cfg.common[3] == "three"
    assert cfg.typed.y == b"ab" and OmegaConf.is_missing(cfg.common, "missing")
    assert loaded["extra_state"]["nested"][0].a == 1


def _dictconfig_payload(payload, where):
    """Pickle bytes (no PROTO, no STOP) of a real DictConfig with ``payload`` in place of one
    of its values: ``value`` (a node's value), ``ref_type`` (container metadata) or ``key``
    (a node's metadata). The payload's opcodes use no memo, so the DictConfig's memo stays valid."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"model": {"dropout": "PAYLOAD_VALUE"}, "task": {"data": "bin"}})
    if where == "ref_type":
        cfg.task._metadata.ref_type = "PAYLOAD_REF"
    if where == "key":
        cfg.task._get_node("data")._metadata.key = "PAYLOAD_KEY"
    data = pickle.dumps(cfg, protocol=2)
    placeholder = _u({"value": "PAYLOAD_VALUE", "ref_type": "PAYLOAD_REF", "key": "PAYLOAD_KEY"}[where])
    assert data.startswith(b"\x80\x02") and data.endswith(b".") and data.count(placeholder) == 1
    return data[2:-1].replace(placeholder, payload)


@pytest.mark.parametrize("where", ["value", "ref_type", "key"])
@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "subprocess.check_call", "getattr-chain"])
def test_payload_inside_a_dictconfig_is_refused_and_runs_nothing(tmp_path, kind, where):
    target = tmp_path / "pwned.txt"
    payload, refused = _payloads(target)[kind]
    path = _checkpoint_with(tmp_path, _dictconfig_payload(payload, where))
    try:
        torch.load(path, weights_only=False)
    except Exception:
        pass
    assert target.exists(), f"payload {kind} in {where} did not run with weights_only=False"
    target.unlink()
    with pytest.raises(UnsafeCheckpointError) as refusal:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not target.exists()
    name = re.escape(refused.removeprefix("builtins."))
    message = str(refusal.value)
    assert message.startswith(f"{path}: refused by safe loading: ") and "\n" not in message, message
    assert re.search(rf"GLOBAL (builtins\.)?{name} (was not an allowed global|whose module \w+ is blocked)", message)
    assert "add_safe_globals" not in message  # torch's advice to allow the global is not passed on


def test_harmless_dictconfig_payload_loads(tmp_path):
    """Control for the test above: the same crafted DictConfig with a plain string loads."""
    path = _checkpoint_with(tmp_path, _dictconfig_payload(_u("plain"), "value"))
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert state["optimizer_history"][0]["lr_scheduler_state"]["best"].model.dropout == "plain"


@pytest.mark.parametrize("damage", ["empty", "cut-zip", "cut-legacy", "random", "not-a-zip"])
def test_damaged_checkpoint_is_one_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "damaged.pt"
    torch.save(_legacy_state(), path, _use_new_zipfile_serialization=damage != "cut-legacy")
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "cut-zip": data[: len(data) // 2], "cut-legacy": data[: len(data) // 2],
                      "random": bytes(range(7, 250)) * 8, "not-a-zip": b"PK\x03\x04" + b"x" * 64}[damage])
    with pytest.raises((pickle.UnpicklingError, EOFError, RuntimeError, OSError)) as error:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: cannot be read as a torch checkpoint (") and "\n" not in message, message
    assert "weights_only" not in message
