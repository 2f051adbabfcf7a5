# experiments/debug/plat.gdb: gdb pretty-printers for plat's Shape, Tensor, Var and Node, so that
# `print t` shows "Tensor[2, 3] 1 2 3 4 5 6" instead of a shared_ptr and a vector's raw members
# (notes/00b-stepping-through-with-gdb.md). Load it with ONE command, from the repository's top:
#     gdb -x experiments/debug/plat.gdb build-debug/plat          (or, inside gdb:
#     (gdb) source experiments/debug/plat.gdb)
# The number of values shown is $plat_values (default 8): `set $plat_values = 32` shows more.
# The printers read the members of core/shape.h, core/tensor.h and autograd/var.h; a change there
# must be mirrored here (tests/gdb/ checks them in `make test`).

set print pretty off
# Breakpoints on plat's functions may be set before the program has started.
set breakpoint pending on

python
import gdb
import gdb.printing


def _values_shown():
    n = gdb.convenience_variable("plat_values")
    return int(n) if n is not None else 8


def _shared_ptr_get(sp):
    """The raw pointer inside a libstdc++ std::shared_ptr (0 when empty)."""
    return sp["_M_ptr"]


def _shape_str(shape):
    """"[2, 3]": Shape's ndim_ and dims_[ndim_] (core/shape.h)."""
    ndim = int(shape["ndim_"])
    return "[" + ", ".join(str(int(shape["dims_"][i])) for i in range(ndim)) + "]"


def _tensor_str(tensor):
    """As Tensor::str (core/tensor.cpp): "Tensor[2, 3] 1 2 3 ... (N values)", "Tensor(empty)"."""
    storage = _shared_ptr_get(tensor["storage_"])
    if int(storage) == 0:
        return "Tensor(empty)"
    shape = tensor["shape_"]
    numel = 1
    for i in range(int(shape["ndim_"])):
        numel *= int(shape["dims_"][i])
    data = storage.dereference()["_M_impl"]["_M_start"]  # std::vector<real>'s first element
    shown = min(numel, _values_shown())
    text = "Tensor" + _shape_str(shape)
    text += "".join(" %.6g" % float(data[i]) for i in range(shown))
    if numel > shown:
        text += " ... (%d values)" % numel
    return text


def _node_str(node):
    """A Node (autograd/var.h): its op, value, and whether a gradient is held."""
    op = node["op"].string()
    flags = "requires_grad" if bool(node["requires_grad"]) else "no grad"
    n_inputs = int(node["inputs"]["_M_impl"]["_M_finish"] - node["inputs"]["_M_impl"]["_M_start"])
    if n_inputs:
        flags += ", %d input%s" % (n_inputs, "" if n_inputs == 1 else "s")
    grad = node["grad"]
    grad_text = "none" if int(_shared_ptr_get(grad["storage_"])) == 0 else _tensor_str(grad)
    return "%s (%s) value=%s grad=%s" % (op, flags, _tensor_str(node["value"]), grad_text)


class ShapePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return _safe(lambda: "Shape" + _shape_str(self.val))


class TensorPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return _safe(lambda: _tensor_str(self.val))


class NodePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return _safe(lambda: "Node " + _node_str(self.val))


class VarPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        def describe():
            node = _shared_ptr_get(self.val["node_"])
            if int(node) == 0:
                return "Var(undefined)"
            return "Var " + _node_str(node.dereference())

        return _safe(describe)


def _safe(describe):
    """A printer's text, or a note when the memory cannot be read: at a function's first line
    in an -O0 build the locals are not set yet (type `next` once)."""
    try:
        return describe()
    except (gdb.MemoryError, gdb.error) as e:
        return "<not readable yet: %s>" % e


def _build():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("plat")
    pp.add_printer("Shape", "^plat::Shape$", ShapePrinter)
    pp.add_printer("Tensor", "^plat::Tensor$", TensorPrinter)
    pp.add_printer("Node", "^plat::Node$", NodePrinter)
    pp.add_printer("Var", "^plat::Var$", VarPrinter)
    return pp


gdb.printing.register_pretty_printer(None, _build(), replace=True)
end
