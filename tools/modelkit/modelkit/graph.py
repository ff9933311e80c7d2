"""A small vocabulary for writing ONNX graphs from PyTorch weights with onnx.helper.

Each method adds nodes and returns the name of its output, so model builders read like the
original forward(). Weights are folded in float64 and stored as float32 (BatchNorm into
the preceding convolution, see ../shared/reference/README.md "Folding parameters").
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8


def fold_batchnorm(weight, bias, gamma, beta, mean, var, eps=1e-5, transposed=False):
    """Conv weight/bias with BatchNorm folded in. The output-channel axis is 0 for Conv and
    1 for ConvTranspose ([Cin, Cout, k, k])."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shape = [1] * weight.ndim
    shape[1 if transposed else 0] = -1
    folded_weight = weight.astype(np.float64) * scale.reshape(shape)
    base = bias.astype(np.float64) if bias is not None else np.zeros_like(scale)
    folded_bias = (base - mean.astype(np.float64)) * scale + beta.astype(np.float64)
    return folded_weight.astype(np.float32), folded_bias.astype(np.float32)


class GraphBuilder:
    def __init__(self, name):
        self.name = name
        self.nodes = []
        self.initializers = []
        self._count = 0

    def _fresh(self, prefix):
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, array, name=None):
        name = name or self._fresh("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(array, order="C"), name))  # keeps 0-d scalars 0-d
        return name

    def _op(self, op, inputs, prefix, **attributes):
        output = self._fresh(prefix)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    @staticmethod
    def _per_axis(value, rank=2):
        return list(value) if isinstance(value, (tuple, list)) else [value] * rank

    def conv(self, x, weight, bias, stride=1, padding=0, dilation=1, groups=1, name="conv"):
        rank = weight.ndim - 2  # Conv1d or Conv2d
        stride, padding, dilation = (self._per_axis(v, rank) for v in (stride, padding, dilation))
        inputs = [x, self.constant(weight, name + ".weight")]
        if bias is not None:
            inputs.append(self.constant(bias, name + ".bias"))
        return self._op("Conv", inputs, name, kernel_shape=list(weight.shape[2:]), strides=stride,
                        pads=padding + padding, dilations=dilation, group=groups)

    def conv_transpose(self, x, weight, bias, stride=1, padding=0, output_padding=0, name="convT"):
        rank = weight.ndim - 2
        stride, padding, output_padding = (self._per_axis(v, rank) for v in (stride, padding, output_padding))
        inputs = [x, self.constant(weight, name + ".weight")]
        if bias is not None:
            inputs.append(self.constant(bias, name + ".bias"))
        return self._op("ConvTranspose", inputs, name, kernel_shape=list(weight.shape[2:]), strides=stride,
                        pads=padding + padding, output_padding=output_padding)

    def relu(self, x):
        return self._op("Relu", [x], "relu")

    def sigmoid(self, x):
        return self._op("Sigmoid", [x], "sigmoid")

    def add(self, a, b):
        return self._op("Add", [a, b], "add")

    def concat(self, tensors, axis):
        return self._op("Concat", list(tensors), "concat", axis=axis)

    def rename(self, x, name):
        self.nodes.append(helper.make_node("Identity", [x], [name], name=name))
        return name

    def model(self, inputs, outputs, doc=""):
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lipsync-modelkit")
        model.ir_version = IR_VERSION
        model.doc_string = doc
        onnx.checker.check_model(model)
        return model


def tensor_info(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)
