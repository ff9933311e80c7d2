"""Float16 variants for GPU, with float32 at the graph boundary (inputs are cast down,
outputs cast up), so the server feeds and reads float32 either way.

`to_float16`: weights and activations all in half precision. Only for graphs whose
intermediate values stay well inside float16's range (±65 504) and need no constant below
its resolution: the Wav2Lip generator qualifies (BatchNorm folded, ReLU activations of
order 1–100), and so does FreeVC's synthesizer. S3FD does not — its L2Norm sums squares
over 512 channels (overflow) and adds 1e-10 (rounds to 0) — and stays float32.

`to_mixed_float16`: only the weight-bearing operators (Conv, ConvTranspose, Gemm, MatMul
with a weight initializer) run in float16, with their weights stored in float16; their
activation inputs are cast down and their outputs cast back up, and everything else —
normalisations, softmax, GELU, residual sums, index arithmetic — stays float32. For WavLM,
whose relative-position buckets take a float32 logarithm and truncate it (a float16 log
would move bucket boundaries), whose residual stream is left unnormalised across 24
layers and whose LayerNorms reduce over 1024 channels. The weights, and so the file and
the GPU's weight traffic, are halved all the same: in WavLM-Large, Conv/Gemm/MatMul hold
all but 0.04 % of the parameters. Its `stored` operators keep float32 arithmetic but have
their weights stored in float16 and cast up to float32 in the graph (ONNX Runtime folds the
Cast when the session loads): for the speaker encoder's LSTMs, 95 % of its parameters,
whose ONNX Runtime CPU kernel is float32-only — only the file shrinks, not the arithmetic.

Both are built as a `Variant`: a skeleton graph (no weights) plus a per-tensor transform
of the float32 model's initializers, so a variant can be written straight to a file
(`Variant.save`) without a second copy of the weights in memory, or assembled into a
ModelProto (`Variant.model`) for tests and sessions.
"""
import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from . import graph as graphs

FLOAT16_MAX = 65504
HALF_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


class Variant:
    """A model written from another model's initializers: `skeleton` (graph, no initializers),
    `source` (the float32 model whose initializers are used), `transform` (tensor → tensor as
    written) and `dtypes` ({initializer name: element type after the transform})."""

    def __init__(self, skeleton, source, transform, dtypes):
        self.skeleton, self.source, self.transform, self.dtypes = skeleton, source, transform, dtypes

    @property
    def graph(self):  # inputs/outputs for a manifest signature
        return self.skeleton.graph

    def check(self, full_check=False):
        graphs.check_model(self.skeleton, self.source.graph.initializer, self.dtypes, full_check=full_check)

    def model(self):
        return graphs.assemble(self.skeleton, self.source.graph.initializer, self.transform)

    def save(self, path):
        graphs.save_model(self.skeleton, path, self.source.graph.initializer, self.transform)


def _half_tensor(tensor):
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), tensor.name)


def _transform(names):
    return lambda tensor: _half_tensor(tensor) if tensor.name in names else tensor


def _check_range(model, names):
    for tensor in model.graph.initializer:
        if tensor.name in names and np.abs(numpy_helper.to_array(tensor)).max(initial=0) > FLOAT16_MAX:
            raise ValueError(f"initializer {tensor.name} exceeds the float16 range")


def float16_variant(model):
    """Everything in float16 (see the module notes for which graphs qualify)."""
    skeleton = graphs.without_initializers(model)
    graph = skeleton.graph
    names = {t.name for t in model.graph.initializer if t.data_type == TensorProto.FLOAT}
    _check_range(model, names)
    for node in graph.node:
        if node.op_type == "Cast":
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.FLOAT16
    casts_in = []
    for value in graph.input:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = value.name + "_fp16"
        for node in graph.node:
            node.input[:] = [half if name == value.name else name for name in node.input]
        casts_in.append(helper.make_node("Cast", [value.name], [half], name=half, to=TensorProto.FLOAT16))
    casts_out = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = value.name + "_fp16"
        for node in graph.node:
            node.output[:] = [half if name == value.name else name for name in node.output]
            node.input[:] = [half if name == value.name else name for name in node.input]
        casts_out.append(helper.make_node("Cast", [half], [value.name], name=value.name + "_fp32", to=TensorProto.FLOAT))
    nodes = casts_in + list(graph.node) + casts_out
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    skeleton.doc_string += " Float16 weights and activations, float32 inputs and outputs."
    variant = Variant(skeleton, model, _transform(names), {name: TensorProto.FLOAT16 for name in names})
    variant.check()
    return variant


def mixed_float16_variant(model, ops=HALF_OPS, stored=()):
    """Float16 weights and arithmetic for `ops` nodes that take a float32 weight
    initializer; float16 weights cast up to float32 in the graph, float32 arithmetic, for
    `stored` nodes; float32 everywhere else (see the module notes)."""
    skeleton = graphs.without_initializers(model)
    graph = skeleton.graph
    floats = {t.name for t in model.graph.initializer if t.data_type == TensorProto.FLOAT}
    taken = {t.name for t in model.graph.initializer} | {v.name for v in graph.input} | \
        {name for node in graph.node for name in node.output}
    half_nodes = {index for index, node in enumerate(graph.node)
                  if node.op_type in ops and any(name in floats for name in node.input[1:])}
    stored_nodes = {index for index, node in enumerate(graph.node)
                    if node.op_type in stored and index not in half_nodes and any(name in floats for name in node.input[1:])}
    users = {}
    for index, node in enumerate(graph.node):
        role = "half" if index in half_nodes else "stored" if index in stored_nodes else "float"
        for name in node.input:
            users.setdefault(name, []).append(role)
    graph_outputs = {v.name for v in graph.output}
    # A weight used only by half-precision nodes is stored in float16; one used only by
    # `stored` nodes is stored in float16 and cast up; one also read in float32 (or a graph
    # output) stays float32 and is cast in the graph (folded by the runtime).
    def only(role):
        return {name for name in floats if name not in graph_outputs and set(users.get(name, ["float"])) == {role}}
    weights, widened = only("half"), only("stored")
    _check_range(model, weights | widened)

    def fresh(name, suffix):
        candidate = f"{name}_{suffix}"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        return candidate

    nodes, casts, widen_casts = [], {}, {}
    for position, original in enumerate(graph.node):
        node = NodeProto()
        node.CopyFrom(original)
        if position in stored_nodes:
            for index, name in enumerate(node.input):
                if name not in widened:
                    continue
                if name not in widen_casts:
                    widen_casts[name] = fresh(name, "fp32")
                    nodes.append(helper.make_node("Cast", [name], [widen_casts[name]], name=widen_casts[name], to=TensorProto.FLOAT))
                node.input[index] = widen_casts[name]
        if position not in half_nodes:
            nodes.append(node)
            continue
        for index, name in enumerate(node.input):
            if not name or name in weights:
                continue
            if name not in casts:
                casts[name] = fresh(name, "fp16")
                nodes.append(helper.make_node("Cast", [name], [casts[name]], name=casts[name], to=TensorProto.FLOAT16))
            node.input[index] = casts[name]
        widen = []
        for index, name in enumerate(node.output):
            half = fresh(name, "fp16")
            node.output[index] = half
            widen.append(helper.make_node("Cast", [half], [name], name=fresh(name, "fp32"), to=TensorProto.FLOAT))
        nodes.append(node)
        nodes.extend(widen)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    skeleton.doc_string += (f" Float16 weights and arithmetic for {'/'.join(ops)}, float32 elsewhere"
                            " (normalisations, softmax, activations, residual sums) and at the inputs and outputs.")
    if stored_nodes:
        skeleton.doc_string += f" {'/'.join(stored)} weights stored in float16, cast to float32 in the graph."
    variant = Variant(skeleton, model, _transform(weights | widened), {name: TensorProto.FLOAT16 for name in weights | widened})
    variant.check(full_check=True)  # type inference catches a float16/float32 mismatch
    return variant


def to_float16(model):
    return float16_variant(model).model()


def to_mixed_float16(model, ops=HALF_OPS, stored=()):
    return mixed_float16_variant(model, ops, stored).model()
