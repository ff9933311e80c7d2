"""Float16 variants for GPU: weights and activations in half precision, float32 at the
graph boundary (inputs are cast down, outputs cast up), so the server feeds and reads
float32 either way.

Only for graphs whose intermediate values stay well inside float16's range (±65 504) and
need no constant below its resolution: the Wav2Lip generator qualifies (BatchNorm folded,
ReLU activations of order 1–100). S3FD does not — its L2Norm sums squares over 512
channels (overflow) and adds 1e-10 (rounds to 0) — and stays float32.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def to_float16(model):
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for index, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            array = numpy_helper.to_array(tensor)
            if np.abs(array).max(initial=0) > 65504:
                raise ValueError(f"initializer {tensor.name} exceeds the float16 range")
            graph.initializer[index].CopyFrom(numpy_helper.from_array(array.astype(np.float16), tensor.name))
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
    model.doc_string += " Float16 weights and activations, float32 inputs and outputs."
    onnx.checker.check_model(model)
    return model
