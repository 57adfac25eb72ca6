"""Reading a HuggingFace folder's files, with one-line errors that name the file and say what is
wrong with it (and what to do), instead of the parser's bare message (``Expecting value: line 3
column 24``, ``[Errno 22] Invalid argument``).

Every error is a ValueError (``FileNotFoundError`` for a missing file); the message is one line.
"""
import json
import os
import struct
import zipfile

REDOWNLOAD = "download or copy it again"


class InputFileError(ValueError):
    """A file of the input folder that cannot be read (the message names it)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(e).__name__


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` says what the file holds (for the message)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: it holds {what}")
    if not os.path.isfile(path):
        raise InputFileError(f"{path} is not a file: it should hold {what}")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputFileError(f"{path}:{line}: not UTF-8 (byte {raw[e.start]:#04x} at offset {e.start}): "
                             f"{what} must be UTF-8 text; {REDOWNLOAD}") from None


def read_json_object(path: str, what: str) -> dict:
    """``path`` parsed as one JSON object (``{...}``)."""
    text = read_text(path, what)
    if not text.strip():
        raise InputFileError(f"{path} is empty: it should be a JSON object with {what}; {REDOWNLOAD}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        end = "" if text.rstrip().endswith(("}", "]")) else " (the file ends without its closing brace: truncated?)"
        raise InputFileError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}){end}; it should be a JSON "
                             f"object with {what}: repair it or {REDOWNLOAD}") from None
    if not isinstance(value, dict):
        raise InputFileError(f"{path} holds a JSON {_json_type(value)}, not a JSON object ({{\"key\": value, ...}}) "
                             f"with {what}")
    return value


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(type(value), "value")


def json_field(config: dict, path: str, key: str, kind, default=None, required=True):
    """``config[key]`` as ``kind`` (int, float or str), naming the file and key when it is absent
    (and ``required``) or of another JSON type. Integral floats (``12.0``) pass as int."""
    if key not in config or config[key] is None:
        if required and default is None:
            present = "is null" if key in config else "is missing"
            raise InputFileError(f"{path}: {key!r} {present}, and this format needs it")
        return default
    value = config[key]
    ok = (kind is str and isinstance(value, str)) or (
        kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool)
        and (kind is float or float(value).is_integer()))
    if not ok:
        want = {int: "an integer", float: "a number", str: "a string"}[kind]
        raise InputFileError(f"{path}: {key!r} is {json.dumps(value)[:40]} (a JSON {_json_type(value)}), "
                             f"expected {want}")
    return kind(value)


def read_lines(path: str, what: str):
    """The lines of a UTF-8 text file, without their ends; a final empty line dropped."""
    lines = read_text(path, what).split("\n")
    lines = [line.removesuffix("\r") for line in lines]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# ---- weights ------------------------------------------------------------------------------

def read_weights(path: str):
    """name -> tensor from safetensors (one file or a sharded index) or a torch .bin (weights_only)."""
    import torch

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: it holds the model's weights")
    if path.endswith(".index.json"):
        index = read_json_object(path, "the weight_map of a sharded checkpoint")
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise InputFileError(f"{path}: no 'weight_map' object (tensor name -> shard file); {REDOWNLOAD}")
        state = {}
        for shard in sorted(set(map(str, weight_map.values()))):
            shard_path = os.path.join(os.path.dirname(path), shard)
            if not os.path.isfile(shard_path):
                raise FileNotFoundError(f"{shard_path} not found: {path} lists it as a shard of the weights")
            state.update(read_weights(shard_path))
        missing = [k for k in weight_map if k not in state]
        if missing:
            raise InputFileError(f"{path} maps {missing[0]!r} to {weight_map[missing[0]]}, which does not hold it")
        return state
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as e:  # noqa: BLE001  safetensors' own error for a truncated or damaged file
            raise InputFileError(safetensors_problem(path, e)) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  pickle refusals and damaged files alike
        raise InputFileError(torch_file_problem(path, e)) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputFileError(f"{path}: not a state dict (a {type(state).__name__}, not name -> tensor)")
    return state


LFS_POINTER = b"version https://git-lfs"


def _empty_or_pointer(path: str, size: int) -> str:
    """The problem of a weights file that holds no weights at all (empty, or a Git LFS pointer), or ''."""
    if size == 0:
        return f"{path} is empty (0 bytes): {REDOWNLOAD}"
    with open(path, "rb") as f:
        if f.read(len(LFS_POINTER)) == LFS_POINTER:
            return (f"{path} is a Git LFS pointer (a small text file naming the weights), not the weights: "
                    f"run 'git lfs pull' in the clone, or download the file itself")
    return ""


def safetensors_problem(path: str, error: BaseException) -> str:
    """What is wrong with the safetensors file ``path``, which safetensors could not read."""
    size = os.path.getsize(path)
    nothing = _empty_or_pointer(path, size)
    if nothing:
        return nothing
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path} is {size} bytes, too short for a safetensors file (truncated): {REDOWNLOAD}"
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            return (f"{path} is truncated: its header alone is {n} bytes, the file {size} bytes "
                    f"(or it is not a safetensors file): {REDOWNLOAD}")
        try:
            header = json.loads(f.read(n))
            end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, IndexError):
            return f"{path}: its safetensors header is damaged (not the JSON table of tensors): {REDOWNLOAD}"
    if size < 8 + n + end:
        return (f"{path} is truncated: its header lists {8 + n + end} bytes of tensors, the file has {size} "
                f"({100 * size / (8 + n + end):.0f}%): {REDOWNLOAD}")
    return f"{path}: cannot be read as safetensors ({_first_line(error)}): {REDOWNLOAD}"


def torch_file_problem(path: str, error: BaseException) -> str:
    """What is wrong with the torch file ``path``, which ``torch.load(weights_only=True)`` refused."""
    import pickle

    size = os.path.getsize(path)
    nothing = _empty_or_pointer(path, size)
    if nothing:
        return nothing
    with open(path, "rb") as f:
        magic = f.read(4)
    text = str(error)
    if "Weights only load failed" in text or isinstance(error, pickle.UnpicklingError) and "weights_only" in text:
        detail = next((line.strip() for line in text.splitlines() if "WeightsUnpickler error" in line), "")
        detail = detail.split(":", 1)[1].strip() if ":" in detail else _first_line(error)
        return (f"{path} holds Python objects besides tensors, which torch.load(weights_only=True) refuses to "
                f"run ({detail}): save a plain state dict, or use model.safetensors")
    if magic == b"PK\x03\x04":
        if not zipfile.is_zipfile(path):
            return (f"{path} is truncated: a torch zip archive ({size} bytes) without its end, where zip files "
                    f"list their contents (the download or copy stopped early): {REDOWNLOAD}")
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError):
            bad = "?"
        if bad:
            return f"{path} is damaged: its zip member {bad} fails its checksum: {REDOWNLOAD}"
        return f"{path}: a zip archive torch cannot load as a state dict ({_first_line(error)})"
    if magic[:1] == b"\x80":  # a pickle protocol byte: torch's legacy (pre-1.6) format
        if isinstance(error, (EOFError, pickle.UnpicklingError)) or "EOF" in text or "truncated" in text:
            return f"{path} is truncated or damaged (a torch file in the legacy pickle format, {size} bytes): {REDOWNLOAD}"
        return f"{path}: a torch file (legacy pickle format) that cannot be loaded ({_first_line(error)})"
    return (f"{path} is not a torch checkpoint (it starts with bytes {magic!r}, neither a zip archive nor a "
            f"pickle): is it another format, or a Git LFS pointer? {REDOWNLOAD}")
