#ifndef LIPSYNC_CONNXRUNTIME_SHIM_H
#define LIPSYNC_CONNXRUNTIME_SHIM_H
// ONNX Runtime's C API only (the C++ headers are not used). Headers: API version 21.
#include <onnxruntime_c_api.h>
#endif
