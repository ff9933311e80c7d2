"""A small vocabulary for writing ONNX graphs from PyTorch weights with onnx.helper.

Each method adds nodes and returns the name of its output, so model builders read like the
original forward(). Weights are folded in float64 and stored as float32 (BatchNorm into
the preceding convolution, see ../shared/reference/README.md "Folding parameters").

Memory: WavLM-Large has 315 M parameters (1.26 GB in float32), so weights are held once.
Each constant goes straight into the model's own initializer list (no list of tensors
copied into a graph and again into a model); `check_model` checks the graph with its
large weights stood in for by typed inputs instead of serialising the whole model; and
`save_model` writes the same bytes as `onnx.save` with one initializer serialised at a
time — optionally another model's initializers through a per-tensor transform, which is
how a float16 variant is written without a second copy of the weights in memory.
"""
import numpy as np
import onnx
from onnx import GraphProto, ModelProto, TensorProto, helper, numpy_helper, shape_inference

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
        self._model = ModelProto()  # initializers are added here directly, one copy each
        self._count = 0

    def _fresh(self, prefix):
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, array, name=None):
        name = name or self._fresh("const")
        tensor = numpy_helper.from_array(np.asarray(array, order="C"), name)  # keeps 0-d scalars 0-d
        self._model.graph.initializer.add().CopyFrom(tensor)
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
        """The finished model (the builder is spent: its initializers now belong to the model)."""
        model, self._model = self._model, None
        graph = model.graph
        graph.name = self.name
        graph.node.extend(self.nodes)
        graph.input.extend(inputs)
        graph.output.extend(outputs)
        model.ir_version = IR_VERSION
        model.opset_import.append(helper.make_opsetid("", OPSET))
        model.producer_name = "lipsync-modelkit"
        model.doc_string = doc
        check_model(model)
        return model


def tensor_info(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


# Initializers larger than this are replaced by typed graph inputs when a model is checked.
CHECK_INLINE_BYTES = 4096


def without_initializers(model):
    """A copy of `model` with every field but the graph's initializers (small: nodes, I/O, metadata)."""
    result = ModelProto()
    for field, value in model.ListFields():
        if field.name == "graph":
            result.graph.SetInParent()
            for graph_field, graph_value in value.ListFields():
                if graph_field.name != "initializer":
                    _set_field(result.graph, graph_field, graph_value)
        else:
            _set_field(result, field, value)
    return result


def _set_field(message, field, value):
    repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED  # protobuf ≥ 6 / older
    if repeated:
        getattr(message, field.name).extend(value)
    elif field.type == field.TYPE_MESSAGE:
        getattr(message, field.name).CopyFrom(value)
    else:
        setattr(message, field.name, value)


def check_model(model, initializers=None, dtypes=None, full_check=False):
    """onnx.checker.check_model on `model`'s structure without serialising its weights (the
    checker takes a serialised model, which for WavLM-Large would be two more 1.26 GB copies).
    Initializers over CHECK_INLINE_BYTES become graph inputs of the same element type and
    shape; small ones (shape constants, scalars) stay. `initializers` (default: the model's)
    and `dtypes` {name: TensorProto type} describe the weights of a model written later
    with `save_model(..., initializers, transform)`."""
    initializers = model.graph.initializer if initializers is None else initializers
    dtypes = dtypes or {}
    skeleton = without_initializers(model)
    for tensor in initializers:
        dtype = dtypes.get(tensor.name, tensor.data_type)
        if len(tensor.raw_data) > CHECK_INLINE_BYTES or dtype != tensor.data_type:
            skeleton.graph.input.append(helper.make_tensor_value_info(tensor.name, dtype, list(tensor.dims)))
        else:
            skeleton.graph.initializer.add().CopyFrom(tensor)
    onnx.checker.check_model(skeleton, full_check=full_check)


def assemble(skeleton, initializers, transform=None):
    """A model from `skeleton` (no initializers) and `initializers`, each through `transform`."""
    model = ModelProto()
    model.CopyFrom(skeleton)
    for tensor in initializers:
        model.graph.initializer.add().CopyFrom(transform(tensor) if transform else tensor)
    return model


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_key(number):
    return _varint(number << 3 | 2)  # wire type 2: length-delimited


def _split(message, number, make):
    """(fields numbered below `number`, fields above it) of `message`, serialised."""
    before, after = make(), make()
    for field, value in message.ListFields():
        if field.number != number:
            _set_field(before if field.number < number else after, field, value)
    return before.SerializeToString(), after.SerializeToString()


def save_model(model, path, initializers=None, transform=None):
    """Writes `model` to `path` — the same bytes as `onnx.save(model, path)` — holding one
    initializer's serialisation at a time instead of the whole file. With `initializers`,
    those are written as the graph's initializers in place of the model's own (the model is
    then a skeleton), each through `transform` when given: a float16 variant is written
    from the float32 weights without a second copy in memory. Protobuf writes fields in
    field-number order, so the graph's initializers (field 5) are streamed between its
    fields 1–4 and 10–16, and the graph itself (ModelProto field 7) between the model's
    other fields; each length prefix comes from a first pass over the tensors."""
    skeleton = without_initializers(model)
    initializers = model.graph.initializer if initializers is None else initializers
    transform = transform or (lambda tensor: tensor)
    graph_field = ModelProto.DESCRIPTOR.fields_by_name["graph"].number
    initializer_field = GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
    model_before, model_after = _split(skeleton, graph_field, ModelProto)
    graph_before, graph_after = _split(skeleton.graph, initializer_field, GraphProto)
    sizes = [transform(tensor).ByteSize() for tensor in initializers]
    key = _field_key(initializer_field)
    length = len(graph_before) + len(graph_after) + sum(len(key) + len(_varint(size)) + size for size in sizes)
    with open(path, "wb") as handle:
        handle.write(model_before)
        handle.write(_field_key(graph_field) + _varint(length))
        handle.write(graph_before)
        for tensor, size in zip(initializers, sizes):
            data = transform(tensor).SerializeToString()
            if len(data) != size:
                raise RuntimeError(f"initializer {tensor.name} changed size while being written")
            handle.write(key + _varint(size))
            handle.write(data)
        handle.write(graph_after)
        handle.write(model_after)


# ---------------------------------------------------------------- transposed convolutions as sub-pixel convolutions

def subpixel_plan(kernel, stride, pad_begin, pad_end, output_padding):
    """One axis of a ConvTranspose rewritten as a convolution producing all `stride` output
    phases: (left pad P, kernel K, right pad R), or None where no such convolution gives
    exactly the ConvTranspose's output length (then the node is left as it is).

    Output position o = i·s − pad_begin + t (input i, tap t). Writing o = s·q + r, the phase r
    is y[s·q + r] = Σ_j x[q + j] · W[r + pad_begin − s·j] over the j with a tap in range: a
    correlation with offsets j_min…j_max common to all phases, i.e. a convolution with left
    padding −j_min and K = j_max − j_min + 1 taps (zero where a phase has no tap)."""
    k, s, pb, pe, op = kernel, stride, pad_begin, pad_end, output_padding
    if s < 2 or (k - pb - pe + op) % s:
        return None
    j_min = -((k - 1 - pb) // s)  # ceil((pb − k + 1) / s)
    j_max = (s - 1 + pb) // s
    left, taps = -j_min, j_max - j_min + 1
    # The output has (L_in − 1)·s − pb − pe + k + op = s·(L_in − 1 + (k − pb − pe + op)/s) positions.
    right = (k - pb - pe + op) // s - 1 - left + taps - 1
    if left < 0 or right < 0:
        return None
    return left, taps, right


def subpixel_weight(weight, stride, plans, pads_begin):
    """ConvTranspose weight [C_in, C_out, kH, kW] → Conv weight [s²·C_out, C_in, K_h, K_w] whose
    output channel (r_y·s + r_x)·C_out + c is phase (r_y, r_x) of channel c (DepthToSpace DCR order)."""
    c_in, c_out, k_h, k_w = weight.shape
    s = stride
    (left_y, taps_y, _), (left_x, taps_x, _) = plans
    result = np.zeros((s * s * c_out, c_in, taps_y, taps_x), dtype=weight.dtype)
    for r_y in range(s):
        for r_x in range(s):
            phase = slice((r_y * s + r_x) * c_out, (r_y * s + r_x + 1) * c_out)
            for m_y in range(taps_y):
                t_y = r_y + pads_begin[0] - s * (m_y - left_y)
                if not 0 <= t_y < k_h:
                    continue
                for m_x in range(taps_x):
                    t_x = r_x + pads_begin[1] - s * (m_x - left_x)
                    if 0 <= t_x < k_w:
                        result[phase, :, m_y, m_x] = weight[:, :, t_y, t_x].T
    return result


def _consumers(graph):
    """Each value's consuming nodes, in graph order."""
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def convtranspose_as_subpixel(model):
    """Rewrites each strided ConvTranspose (group 1, no dilation, equal strides ≥ 2, constant
    weights, explicit pads) as Conv → DepthToSpace(stride, DCR): the same function, computed as
    one ordinary convolution whose output channels are the stride² output phases, then
    interleaved. A Relu that is the ConvTranspose's only consumer moves before the
    DepthToSpace (they commute), so a quantiser fuses it into the convolution.

    Why: ONNX Runtime's x86 CPU provider has no int8 ConvTranspose kernel, so in a QDQ model
    those layers run in float32 after DequantizeLinear — in modelkit's Wav2Lip int8 generator
    they were half its time (ORT profile, batch 8: 103 of 209 ms). As Conv they become
    QLinearConv. The convolution computes 16 taps where the ConvTranspose has 9 (k=3, s=2), so
    it is for int8 only: in float32 it is ~10 % slower. Returns the number of nodes rewritten;
    `model` is changed in place."""
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    consumers = _consumers(graph)
    outputs = {value.name for value in graph.output}
    nodes, moved, rewritten = [], set(), 0
    for node in graph.node:
        if id(node) in moved:
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "ConvTranspose" or node.input[1] not in initializers or attributes.get("group", 1) != 1
                or any(d != 1 for d in attributes.get("dilations", [1, 1])) or "output_shape" in attributes
                or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(initializers[node.input[1]])
        strides = list(attributes.get("strides", [1, 1]))
        pads = list(attributes.get("pads", [0, 0, 0, 0]))
        output_padding = list(attributes.get("output_padding", [0, 0]))
        plans = [subpixel_plan(weight.shape[2 + axis], strides[axis], pads[axis], pads[axis + 2], output_padding[axis])
                 for axis in range(2)] if weight.ndim == 4 else [None]
        if None in plans or strides[0] != strides[1]:
            nodes.append(node)
            continue
        s = strides[0]
        name = node.name or node.output[0]
        weight_name = node.input[1] + "/subpixel"
        graph.initializer.append(numpy_helper.from_array(subpixel_weight(weight, s, plans, pads[:2]), weight_name))
        conv_inputs = [node.input[0], weight_name]
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(initializers[node.input[2]])
            conv_inputs.append(node.input[2] + "/subpixel")
            graph.initializer.append(numpy_helper.from_array(np.tile(bias, s * s), conv_inputs[-1]))
        phases = node.output[0] + "/phases"
        nodes.append(helper.make_node(
            "Conv", conv_inputs, [phases], name=name + "/phases", kernel_shape=[plans[0][1], plans[1][1]],
            pads=[plans[0][0], plans[1][0], plans[0][2], plans[1][2]]))
        users = consumers.get(node.output[0], [])
        if len(users) == 1 and users[0].op_type == "Relu" and node.output[0] not in outputs:
            relu = users[0]
            shuffled = relu.output[0]
            relu.input[0] = phases
            relu.output[0] = shuffled + "/phases"
            nodes.append(relu)
            moved.add(id(relu))
            phases, target = relu.output[0], shuffled
        else:
            target = node.output[0]
        nodes.append(helper.make_node("DepthToSpace", [phases], [target], name=name + "/shuffle", blocksize=s, mode="DCR"))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return rewritten


def pixel_shuffles_as_nhwc(model):
    """Rewrites each quantised pixel shuffle — DequantizeLinear → DepthToSpace (DCR) →
    QuantizeLinear with the same constant scale and zero point on both sides, and a static
    channel count, height and width — as the same permutation written for a channels-last
    tensor: Transpose to NHWC → Reshape [N, H, W, b, b, C] → Transpose (swap W and the first
    block axis) → Reshape [N, b·H, b·W, C] → Transpose back to NCHW, each step between its own
    DequantizeLinear/QuantizeLinear pair with those parameters (so ONNX Runtime runs them on the
    8-bit values, as it ran the DepthToSpace). The same values out, bit for bit.

    Why: ONNX Runtime runs QLinearConv channels-last on x86 and puts a Transpose around every
    operator it cannot run that way. DepthToSpace is one, so the sub-pixel convolutions
    (`convtranspose_as_subpixel`) each paid NHWC → NCHW, the shuffle, NCHW → NHWC, and the
    residual Adds and skip Concats after them stayed channels-first with transposes of their
    own: 43 Transposes and 5 DepthToSpace in the int8 generator, 17 % of its time. Written
    channels-last, the first and last Transpose cancel against ONNX Runtime's and the rest of
    the decoder stays channels-last: 13 Transposes, no DepthToSpace, batch 8 in ~95 ms instead
    of ~117 ms on 2 cores. Returns the number of shuffles rewritten; `model` is changed in place."""
    inferred = shape_inference.infer_shapes(model)
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    graph = model.graph
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    consumers = _consumers(graph)
    graph_outputs = {value.name for value in graph.output}
    nodes, rewritten = [], 0
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        mode = attributes.get("mode", b"DCR")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        block = attributes.get("blocksize")
        dequantize = producers.get(node.input[0]) if node.op_type == "DepthToSpace" else None
        users = consumers.get(node.output[0], []) if dequantize is not None else []
        shape = shapes.get(node.input[0], [])
        fits = (
            dequantize is not None and dequantize.op_type == "DequantizeLinear" and mode == "DCR" and block
            and len(users) == 1 and users[0].op_type == "QuantizeLinear" and node.output[0] not in graph_outputs
            and len(dequantize.input) == 3 and len(users[0].input) == 3 and len(shape) == 4
            and all(d for d in shape[1:]) and shape[1] % (block * block) == 0)
        if fits:
            quantize = users[0]
            scale, zero = dequantize.input[1], dequantize.input[2]
            pairs = [(initializers.get(scale), initializers.get(quantize.input[1])),
                     (initializers.get(zero), initializers.get(quantize.input[2]))]
            fits = all(a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b) and a.size == 1
                       for a, b in pairs)
        if not fits:
            nodes.append(node)
            continue
        _, channels, height, width = shape
        c = channels // (block * block)
        name = node.name or node.output[0]
        steps = [("Transpose", dict(perm=[0, 2, 3, 1]), None),
                 ("Reshape", {}, [0, height, width, block, block, c]),
                 ("Transpose", dict(perm=[0, 1, 3, 2, 4, 5]), None),
                 ("Reshape", {}, [0, height * block, width * block, c]),
                 ("Transpose", dict(perm=[0, 3, 1, 2]), None)]
        current = node.input[0]
        for index, (op, step_attributes, target_shape) in enumerate(steps):
            step = f"{name}/nhwc{index}"
            inputs = [current]
            if target_shape is not None:
                graph.initializer.append(numpy_helper.from_array(np.array(target_shape, dtype=np.int64), step + "/shape"))
                inputs.append(step + "/shape")
            last = index == len(steps) - 1
            output = node.output[0] if last else step
            nodes.append(helper.make_node(op, inputs, [output], name=step, **step_attributes))
            if not last:
                nodes.append(helper.make_node("QuantizeLinear", [output, scale, zero], [step + "/q"], name=step + "/q"))
                nodes.append(helper.make_node("DequantizeLinear", [step + "/q", scale, zero], [step + "/dq"], name=step + "/dq"))
                current = step + "/dq"
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten
