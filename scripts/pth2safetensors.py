#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pth / .pt) to a safetensors file purview can load.

    /usr/bin/python3 scripts/pth2safetensors.py model.pth out.safetensors [--strip-prefix module.]
                                               [--import-dir DIR]

The input may be
  * a state_dict ({name: tensor});
  * a dict wrapping one under 'state_dict', 'model', 'net' or 'model_state_dict'
    (other keys such as 'epoch', 'optimizer' or 'acc' are ignored);
  * a whole pickled nn.Module (torch.save(model)). Unpickling needs the model's class
    importable under the module name it was saved from: e.g. the Mahalanobis / ODIN
    DenseNet checkpoints need a `densenet.py` defining DenseNet3 on the path — give its
    directory with --import-dir.
A leading --strip-prefix (default "module.", what nn.DataParallel adds) is removed from
every name that has it. Floating tensors are written as float32, integer buffers (BatchNorm's
num_batches_tracked) as int64; names and order are kept. Only load checkpoints you trust:
unpickling runs code.
"""
import argparse, os, sys
from collections import OrderedDict

import torch

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the working tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo import write_safetensors  # noqa: E402

WRAPPER_KEYS = ("state_dict", "model", "net", "model_state_dict")


class ConvertError(Exception):
    pass


def load_state_dict(path, import_dir=None):
    """The state_dict inside path (a state_dict, a wrapping dict or a pickled nn.Module)."""
    if import_dir:
        sys.path.insert(0, import_dir)
    try:
        obj = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except (AttributeError, ModuleNotFoundError, ImportError) as e:
        # A pickled module refers to its class by module path; it must be importable here.
        raise ConvertError(f"{path}: holds a pickled object whose class cannot be imported ({e}); put the file "
                           f"defining it on the path with --import-dir DIR, or save model.state_dict() instead") from None
    except Exception as e:
        raise ConvertError(f"{path}: not a PyTorch checkpoint torch.load can read ({type(e).__name__}: {e})") from None
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for k in WRAPPER_KEYS:
            if k in obj:
                inner = obj[k]
                if isinstance(inner, torch.nn.Module):
                    return inner.state_dict()
                if isinstance(inner, dict) and _is_state_dict(inner):
                    return inner
                raise ConvertError(f"{path}: key {k!r} holds a {type(inner).__name__}, expected a state_dict "
                                   f"(name → tensor) or an nn.Module")
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise ConvertError(f"{path}: a dict with keys {keys}: expected a state_dict (name → tensor) or a dict "
                           f"wrapping one under {', '.join(repr(k) for k in WRAPPER_KEYS)}")
    if isinstance(obj, dict):
        return obj
    raise ConvertError(f"{path}: holds a {type(obj).__name__}, expected a state_dict, a dict wrapping one, "
                       f"or an nn.Module")


def _is_state_dict(d):
    return len(d) > 0 and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())


def convert(sd, strip_prefix="module.", path="state_dict"):
    """OrderedDict of float32 / int64 CPU tensors with strip_prefix removed from the names."""
    out = OrderedDict()
    for name, t in sd.items():
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix):]
        if name in out:
            raise ConvertError(f"{path}: tensor {name!r} occurs twice after stripping {strip_prefix!r}")
        if t.is_floating_point():
            t = t.float()
        elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            t = t.long()
        elif t.dtype != torch.bool:
            raise ConvertError(f"{path}: tensor {name!r}: unsupported dtype {t.dtype} (expected floating or integer)")
        out[name] = t.detach().cpu().contiguous()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="checkpoint written by torch.save")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--strip-prefix", default="module.", help='prefix to drop from names (default "module."; '
                                                                '"" keeps names as they are)')
    ap.add_argument("--import-dir", help="directory to put on sys.path to unpickle a whole model")
    a = ap.parse_args()
    try:
        sd = convert(load_state_dict(a.input, a.import_dir), a.strip_prefix, a.input)
        write_safetensors(a.output, sd)
    except ConvertError as e:
        sys.exit(f"pth2safetensors: {e}")
    except OSError as e:
        sys.exit(f"pth2safetensors: {a.output}: cannot write: {e.strerror}")
    n = sum(t.numel() for t in sd.values() if t.is_floating_point())
    print(f"{a.output}: {len(sd)} tensors, {n:,} floating-point values")


if __name__ == "__main__":
    main()
